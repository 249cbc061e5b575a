// The Keyhold admin console: native ES modules, no build step. It signs in through Keyhold's own
// authorization-code flow with PKCE and calls the admin API (/api/v1) with the access token.

import { ApiError, createApi } from './api.js';
import { focus, h } from './dom.js';
import { createRouter } from './router.js';
import { clearAllDrafts } from './drafts.js';
import { closeWindows } from './controls/dialog.js';
import { createSession, SIGNED_OUT_STATE, UserFacing } from './session.js';
import { auditPage } from './pages/audit.js';
import { clientsPage } from './pages/clients.js';
import { usersPage } from './pages/users.js';

const PAGES = { clients: clientsPage, users: usersPage, audit: auditPage };

const main = document.getElementById('main');
const nav = document.getElementById('nav');

/** A page of its own outside the signed-in console: a title, a sentence, some buttons. */
function renderMessage(title, message, actions = []) {
  nav.hidden = true;
  document.getElementById('menu').hidden = true;
  main.replaceChildren(h('div', { class: 'center' }, h('h1', { id: 'page-title', tabindex: '-1' }, title), h('p', {}, message), h('div', { class: 'actions' }, actions)));
  focus(main.querySelector('h1'));
}

/** An explicit sign-out forgets this tab's drafts; a session that merely ends keeps them (to resume). */
function signOut(session) {
  clearAllDrafts();
  session.signOut();
}

function showSignedIn(session) {
  const who = document.getElementById('who');
  who.replaceChildren('Signed in as ', h('span', { dir: 'auto' }, session.current.name ?? ''));
  who.hidden = false;
  const out = document.getElementById('sign-out');
  out.hidden = false;
  out.addEventListener('click', () => signOut(session));
}

/** Below 48rem the navigation folds behind a Menu button (console.css). */
function wireMenu() {
  const menu = document.getElementById('menu');
  menu.hidden = false;
  const close = () => {
    menu.setAttribute('aria-expanded', 'false');
    nav.classList.remove('open');
  };
  menu.addEventListener('click', () => {
    const open = menu.getAttribute('aria-expanded') !== 'true';
    menu.setAttribute('aria-expanded', String(open));
    nav.classList.toggle('open', open);
    if (open) nav.querySelector('a')?.focus();
  });
  nav.addEventListener('click', (event) => event.target.closest('a') && close());
  nav.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && nav.classList.contains('open')) {
      close();
      menu.focus();
    }
  });
}

async function start() {
  const config = await (await fetch('/admin/config.json')).json();
  const home = new URL(config.redirectUri).origin;
  if (location.origin !== home) {
    // Sign-in returns to the issuer's origin; start there so this tab's PKCE state is found again.
    return location.replace(`${home}/admin/${location.hash}`);
  }
  if (!crypto.subtle) {
    return renderMessage('The console needs HTTPS', 'Open the console over https (or on localhost): the browser offers the cryptography sign-in needs only there.');
  }
  const response = await fetch(`${config.issuer}/.well-known/openid-configuration`).catch(() => undefined);
  if (!response?.ok) throw new UserFacing('Keyhold is not answering', 'The sign-in configuration could not be loaded. Reload the page in a moment.');
  const session = createSession(config, await response.json());
  const signInButton = () => h('button', { type: 'button', id: 'sign-in', text: 'Sign in', onclick: () => session.signIn('#/clients') });

  if (location.pathname === '/admin/callback') await session.finishSignIn();
  if (!session.load()) {
    if (new URLSearchParams(location.search).get('state') === SIGNED_OUT_STATE) {
      history.replaceState(null, '', '/admin/');
      return renderMessage('Signed out', 'You have signed out of the Keyhold admin console.', [signInButton()]);
    }
    return session.signIn(location.hash);
  }
  showSignedIn(session);
  const needsAdmin = () =>
    renderMessage(
      'You need the admin role',
      `You are signed in${session.current?.name ? ` as ${session.current.name}` : ''}, but this console is only for administrators. Ask an administrator to give your account the admin role, then sign in again.`,
      [h('button', { type: 'button', text: 'Sign out', onclick: () => signOut(session) })],
    );
  if (!session.isAdmin()) return needsAdmin();

  const api = createApi({ session, onForbidden: needsAdmin });
  const ctx = { config, session, api };
  let current;
  const router = createRouter(async (route) => {
    // A window belongs to the view that opened it: it closes (as Cancel) before another view shows.
    closeWindows();
    const name = PAGES[route.page] ? route.page : 'clients';
    for (const link of nav.querySelectorAll('a')) {
      if (link.getAttribute('href') === `#/${name}`) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    if (current?.name !== name) current = { name, page: PAGES[name](ctx, main) };
    document.title = `${current.page.title} · Keyhold admin console`;
    await current.page.show(route).catch(fail);
  });
  ctx.router = router;
  // The skip link moves focus only: #main is not a route.
  document.querySelector('.skip').addEventListener('click', (event) => {
    event.preventDefault();
    focus(main);
  });
  nav.hidden = false;
  wireMenu();
  await router.start();
}

function fail(err) {
  if (err instanceof ApiError && err.status === 403) return;
  console.error(err);
  renderMessage(err instanceof UserFacing ? err.title : 'Something went wrong', err.message || String(err), [
    h('button', { type: 'button', text: 'Reload', onclick: () => location.reload() }),
  ]);
}

start().catch(fail);
