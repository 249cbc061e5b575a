import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { launchChromium } from '../helpers/browser.ts';
import { openPage } from '../helpers/console.ts';
import { basicAuth, createClient, createUser, PASSWORD } from '../helpers/fixtures.ts';
import { pkce } from '../helpers/flow.ts';
import { authorize, checkPage, lastDocument, msg, registerRp, startRp, type Lang, type TestRp } from '../helpers/pages.ts';

/** What the pages do, in Chromium: the sign-in form, sign-out, the ways forward from errors, the brand, form_post. */

const heading = (page: Page) => page.getByRole('heading', { level: 1 }).innerText();
const en = (key: string, params: Record<string, string> = {}) => msg('en', key, params);
const atApp = (rp: TestRp) => (url: URL) => url.href.startsWith(`${rp.callback}?`);

/** Signs in on Keyhold's sign-in page from an authorization request; resolves on the app's callback. */
async function signIn(page: Page, kh: TestApp, clientId: string, rp: TestRp, username: string) {
  await page.goto(authorize(kh, clientId, rp));
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(atApp(rp));
}

/**
 * A sign-out that asks nothing: with JavaScript the page goes on to the app by itself; without, it is
 * Keyhold's page in `lang` (with what it is `saying`), and one Continue goes on. Resolves with the page
 * without JavaScript.
 */
async function signsOutWithoutAsking(
  t: Test,
  browser: Browser,
  kh: TestApp,
  rp: TestRp,
  { name, lang, signOut, saying }: { name: string; lang: Lang; signOut: (page: Page, state: string) => Promise<unknown>; saying?: string },
) {
  const { page, problems } = await openPage(t, browser, kh, name);
  await signOut(page, 'scripted');
  await page.waitForURL((url) => url.href.startsWith(rp.signedOut));
  t.equal(new URL(page.url()).searchParams.get('state'), 'scripted', 'signed out and back at the app by itself');
  t.same(problems, [], 'no script errors or CSP violations (the script is the one the policy allows)');

  const context = await browser.newContext({ javaScriptEnabled: false });
  t.teardown(() => context.close());
  const { page: still, shot } = await openPage(t, browser, kh, `${name}-no-script`, { context });
  const document = lastDocument(still);
  await signOut(still, 'no-script');
  await checkPage(t, still, document, { lang, heading: msg(lang, 'signout.signing_out'), label: name, shot, scriptsOff: true });
  // In <noscript> (which Playwright's text locators skip): shown by a browser that runs no script.
  const text = await still.locator('main').innerText();
  t.ok(text.includes(msg(lang, 'signout.continue_hint')), 'says what to do');
  if (saying) t.ok(text.includes(msg(lang, saying)), `says ${saying}`);
  await still.getByRole('button', { name: msg(lang, 'signout.continue') }).click();
  await still.waitForURL((url) => url.href.startsWith(rp.signedOut));
  t.equal(new URL(still.url()).searchParams.get('state'), 'no-script', 'back at the app');
  return still;
}

t.test('the sign-in form', async (t) => {
  const kh = await startTestApp(t);
  const rp = await startRp(t);
  const client = await registerRp(kh, rp);
  await createUser(kh.users, { username: 'alice' });
  const browser = await launchChromium(t);
  const context = await browser.newContext();
  t.teardown(() => context.close());
  const { page, problems, shot } = await openPage(t, browser, kh, 'pages-sign-in', { context });
  const logins: string[] = [];
  context.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname.endsWith('/login')) logins.push(request.url());
  });

  await page.goto(authorize(kh, client.id, rp, { state: 'first-tab' }));
  const signInUrl = page.url();
  const uid = /^\/interaction\/([\w-]+)$/.exec(new URL(signInUrl).pathname)?.[1];
  t.ok(uid, `the sign-in page is /interaction/<uid> (${signInUrl})`);
  const username = page.getByLabel('Username');
  const password = page.getByLabel('Password');
  t.equal(await username.getAttribute('maxlength'), '256');
  t.equal(await password.getAttribute('maxlength'), '1024');
  // The keyboard alone: the name has focus, Tab reaches the password, then the button.
  const active = () => page.evaluate(() => `${document.activeElement?.tagName.toLowerCase()}#${document.activeElement?.id}:${document.activeElement?.textContent?.trim()}`);
  t.equal(await active(), 'input#username:', 'the name field has focus');
  await page.keyboard.press('Tab');
  t.equal(await active(), 'input#password:');
  await page.keyboard.press('Tab');
  t.equal(await active(), 'button#:Sign in');

  // Longer than the form allows (a script, or a browser ignoring maxlength): a wrong password, no more.
  await username.evaluate((el, value) => void ((el as HTMLInputElement).value = value), 'u'.repeat(300));
  await password.evaluate((el, value) => void ((el as HTMLInputElement).value = value), 'p'.repeat(1100));
  t.equal((await username.inputValue()).length, 300);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  t.equal(await heading(page), en('signin.title'));
  t.equal(await page.getByRole('alert').innerText(), en('signin.wrong'));
  t.equal(await page.getByText(en('signin.refused.title')).count(), 0, 'never "form not accepted"');
  t.equal(page.url(), `${kh.origin}/interaction/${uid}`, 'the address bar shows the sign-in page, not the form target');
  t.equal(logins.length, 1);
  const focused = await page.evaluate(() => {
    const el = document.activeElement!;
    const described = (el.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean);
    return { id: el.id, invalid: el.getAttribute('aria-invalid'), description: described.map((id) => document.getElementById(id)?.textContent ?? `(no #${id})`).join(' ') };
  });
  t.same(focused, { id: 'password', invalid: 'true', description: en('signin.wrong') }, 'the focused password field carries the error');
  t.equal((await username.inputValue()).length, 256, 'the name is shown back, at most as long as the form allows');
  await shot('too-long');

  // Reload: a GET of the sign-in page, no form posted again.
  const reloaded = await page.reload();
  t.equal(reloaded?.request().method(), 'GET');
  t.equal(reloaded?.status(), 200);
  t.equal(await heading(page), en('signin.title'));
  t.equal(logins.length, 1, 'reload posts nothing');

  // The form's own address, typed: the sign-in page, not JSON.
  const typed = await page.goto(`${kh.origin}/interaction/${uid}/login`);
  t.equal(page.url(), signInUrl);
  t.match(typed?.headers()['content-type'], /^text\/html/);
  t.equal(await heading(page), en('signin.title'));

  // A second tab of the same sign-in, opened before the first signs in.
  const second = await context.newPage();
  await second.goto(signInUrl);
  t.equal(await heading(second), en('signin.title'));

  // " alice " is alice.
  await username.fill(' alice ');
  await password.fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(atApp(rp));
  const callback = new URL(page.url());
  t.equal(callback.searchParams.get('state'), 'first-tab');
  t.match(callback.searchParams.get('code'), /^\S{20,}$/, 'the app got a code');

  // Back from the app: signed in, with the way back to the app; not "expired".
  await page.goBack();
  t.equal(await heading(page), en('signin.done.title'));
  t.ok(await page.getByText(en('signin.done.body', { user: 'alice', app: 'Test app' })).isVisible(), 'signed in as alice, to Test app');
  t.equal(await page.getByRole('link', { name: en('page.back', { app: 'Test app' }) }).getAttribute('href'), `${rp.origin}/`);
  t.equal(await page.getByText(en('signin.expired.title')).count(), 0);
  await shot('back-after-sign-in');

  // The second tab signs in too: it is told the user is signed in.
  await second.getByLabel('Username').fill('alice');
  await second.getByLabel('Password').fill(PASSWORD);
  await second.getByRole('button', { name: 'Sign in' }).click();
  await second.getByRole('heading', { level: 1, name: en('signin.done.title') }).waitFor();
  t.equal(await heading(second), en('signin.done.title'), 'the second tab says signed in');
  t.equal(logins.length, 3);
  t.same(problems, [], 'no script errors or CSP violations');
});

t.test('signing out', async (t) => {
  const kh = await startTestApp(t);
  const rp = await startRp(t);
  const client = await registerRp(kh, rp);
  await createUser(kh.users, { username: 'alice' });
  const browser = await launchChromium(t);
  const { page, problems, shot } = await openPage(t, browser, kh, 'pages-sign-out');
  const endSession = (params: Record<string, string>) => page.goto(`${kh.issuer}/session/end?${new URLSearchParams(params)}`);

  await signIn(page, kh, client.id, rp, 'alice');
  // The app asks without an id_token_hint: the page says which app asks and which account it is.
  await endSession({ client_id: client.id, post_logout_redirect_uri: rp.signedOut, state: 'asked' });
  t.equal(await heading(page), en('signout.title'));
  t.ok(await page.getByText(en('signout.asked_by', { app: 'Test app' })).isVisible(), 'names the app');
  t.ok(await page.getByText(en('signout.account', { user: 'alice' })).isVisible(), 'names the account');
  await shot('confirm');

  // No: stays on Keyhold, still signed in, with the way back to the app.
  await page.getByRole('button', { name: en('signout.no') }).click();
  await page.getByRole('heading', { level: 1, name: en('signout.stayed.title') }).waitFor();
  t.equal(new URL(page.url()).origin, kh.origin, 'No stays on Keyhold');
  t.ok(await page.getByText(en('signout.stayed.body', { user: 'alice' })).isVisible());
  const back = await page.getByRole('link', { name: en('page.back', { app: 'Test app' }) }).getAttribute('href');
  t.ok(back?.startsWith(`${rp.origin}/`), `the link goes back to the app (${back})`);
  t.notOk(rp.hits.some((hit) => hit.url.startsWith('/signed-out')), 'the app was not told of a sign-out');
  await shot('stayed');
  await page.goto(authorize(kh, client.id, rp, { prompt: 'none' }));
  await page.waitForURL(atApp(rp));
  t.match(new URL(page.url()).searchParams.get('code'), /^\S{20,}$/, 'the session lives: prompt=none gets a code');

  // Opened directly while signed in: not "signed out".
  await page.goto(`${kh.issuer}/session/end/success`);
  t.equal(await heading(page), en('signout.stayed.title'));
  t.ok(await page.getByText(en('signout.stayed.body', { user: 'alice' })).isVisible());

  // Yes: signed out, on the app's logout URL.
  await endSession({ client_id: client.id, post_logout_redirect_uri: rp.signedOut, state: 'yes' });
  await page.getByRole('button', { name: en('signout.yes') }).click();
  await page.waitForURL((url) => url.href.startsWith(rp.signedOut));
  t.equal(new URL(page.url()).searchParams.get('state'), 'yes');
  await page.goto(authorize(kh, client.id, rp, { prompt: 'none' }));
  await page.waitForURL(atApp(rp));
  t.equal(new URL(page.url()).searchParams.get('error'), 'login_required', 'the session is gone');

  // Signed in again, signed out without a logout URL: "Signed out".
  await signIn(page, kh, client.id, rp, 'alice');
  await endSession({});
  await page.getByRole('button', { name: en('signout.yes') }).click();
  await page.getByRole('heading', { level: 1, name: en('signout.done.title') }).waitFor();
  t.equal(new URL(page.url()).pathname, '/session/end/success');
  t.ok(await page.getByText(en('signout.done.body')).isVisible());
  t.same(problems, [], 'no script errors or CSP violations');
});

t.test('signing out from an app that sends an id_token_hint: no question, with or without JavaScript', async (t) => {
  const kh = await startTestApp(t);
  const rp = await startRp(t);
  const { client, secret } = await createClient(kh.clients, { name: 'Test app', redirectUris: [rp.callback], postLogoutRedirectUris: [rp.signedOut] });
  await createUser(kh.users, { username: 'alice' });
  const browser = await launchChromium(t);
  const idToken = async (page: Page) => {
    const { verifier, challenge } = pkce();
    await page.goto(authorize(kh, client.id, rp, { code_challenge: challenge }));
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(atApp(rp));
    const code = new URL(page.url()).searchParams.get('code')!;
    const tokens = await fetch(`${kh.issuer}/token`, {
      method: 'POST',
      headers: { authorization: basicAuth(client.id, secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: rp.callback, code_verifier: verifier }),
    });
    t.equal(tokens.status, 200);
    return ((await tokens.json()) as { id_token: string }).id_token;
  };
  const signOut = (page: Page, hint: string, state: string) =>
    page.goto(`${kh.issuer}/session/end?${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: rp.signedOut, state })}`);

  await signsOutWithoutAsking(t, browser, kh, rp, { name: 'pages-hinted-sign-out', lang: 'en', signOut: async (page, state) => signOut(page, await idToken(page), state) });
});

t.test("signing out when nobody is signed in: Keyhold's page, in the language asked for, with or without JavaScript", async (t) => {
  const kh = await startTestApp(t);
  const rp = await startRp(t);
  const { client } = await createClient(kh.clients, { name: 'Test app', redirectUris: [rp.callback], postLogoutRedirectUris: [rp.signedOut] });
  const browser = await launchChromium(t);
  const signOut = (page: Page, state: string) =>
    page.goto(`${kh.issuer}/session/end?${new URLSearchParams({ client_id: client.id, post_logout_redirect_uri: rp.signedOut, state, ui_locales: 'fr' })}`);

  const still = await signsOutWithoutAsking(t, browser, kh, rp, { name: 'pages-sign-out-signed-out', lang: 'fr', signOut, saying: 'signout.not_signed_in' });

  // Without an address to go back to, the "Signed out" page speaks the language the request asked for.
  await still.goto(`${kh.issuer}/session/end?ui_locales=fr`);
  await still.getByRole('button', { name: msg('fr', 'signout.continue') }).click();
  await still.getByRole('heading', { level: 1, name: msg('fr', 'signout.done.title') }).waitFor();
  t.equal(await still.locator('html').getAttribute('lang'), 'fr', 'the "Signed out" page in French');
});

t.test('error pages show a way forward', async (t) => {
  const kh = await startTestApp(t);
  const rp = await startRp(t);
  const client = await registerRp(kh, rp);
  const browser = await launchChromium(t);
  const { page, problems, shot } = await openPage(t, browser, kh, 'pages-errors');

  // A request the app got wrong: the page links to the app's registered address.
  const response = await page.goto(authorize(kh, client.id, rp, { redirect_uri: 'https://elsewhere.example.com/callback' }));
  t.equal(response?.status(), 400);
  t.equal(await heading(page), en('error.request.signin_title'));
  t.equal(await page.getByRole('link', { name: en('page.back', { app: 'Test app' }) }).getAttribute('href'), `${rp.origin}/`);
  t.notOk(rp.hits.length, 'nothing was sent to the app');
  await shot('provider-error');

  // Cancel on the sign-in page: back to the app, told so.
  await page.goto(authorize(kh, client.id, rp, { state: 'cancelled' }));
  await page.getByRole('button', { name: en('signin.cancel') }).click();
  await page.waitForURL(atApp(rp));
  const cancelled = new URL(page.url()).searchParams;
  t.same([cancelled.get('error'), cancelled.get('state')], ['access_denied', 'cancelled'], 'Cancel returns to the app with access_denied');

  // Not found: a page for a browser, problem+json otherwise.
  const notFound = await page.goto(`${kh.origin}/no/such/page`);
  t.equal(notFound?.status(), 404);
  t.match(notFound?.headers()['content-type'], /^text\/html/);
  t.equal(await heading(page), en('error.not_found.title'));
  await shot('not-found');
  const api = await fetch(`${kh.origin}/no/such/page`, { headers: { accept: 'application/json' } });
  t.equal(api.status, 404);
  t.match(api.headers.get('content-type'), /^application\/problem\+json/);
  t.match(await api.json(), { status: 404 });
  t.same(problems, [], 'no script errors or CSP violations');
});

t.test('the brand: name, logo, accent colour', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'keyhold-brand-'));
  await chmod(dir, 0o755);
  const logo = join(dir, 'logo.svg');
  await writeFile(logo, '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40" viewBox="0 0 120 40"><rect width="120" height="40" fill="#0a7d3b"/></svg>\n', { mode: 0o644 });
  const kh = await startTestApp(t, { env: { BRAND_NAME: 'Acme ID', BRAND_ACCENT: '#0a7d3b', BRAND_LOGO: logo } });
  const rp = await startRp(t);
  const client = await registerRp(kh, rp);
  await createUser(kh.users, { username: 'alice' });
  const browser = await launchChromium(t);
  const { page, problems, shot } = await openPage(t, browser, kh, 'pages-brand');
  const document = lastDocument(page);

  const branded = async (label: string, button: string) => {
    const img = page.locator('main > .brand img');
    t.equal(await img.getAttribute('alt'), 'Acme ID', `${label}: the logo is named`);
    t.ok(await img.evaluate((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0), `${label}: the logo loads`);
    t.ok((await page.title()).endsWith('Acme ID'), `${label}: the title names the brand`);
    const colour = await page.getByRole('button', { name: button }).evaluate((el) => getComputedStyle(el).backgroundColor);
    t.equal(colour, 'rgb(10, 125, 59)', `${label}: the button has the accent colour`);
  };
  await page.goto(authorize(kh, client.id, rp));
  await checkPage(t, page, document, { lang: 'en', heading: en('signin.title'), label: 'sign-in', shot, brand: 'Acme ID' });
  await branded('sign-in', 'Sign in');
  await signIn(page, kh, client.id, rp, 'alice');
  await page.goto(`${kh.issuer}/session/end`);
  await checkPage(t, page, document, { lang: 'en', heading: en('signout.title'), label: 'sign-out', shot, brand: 'Acme ID' });
  await branded('sign-out', en('signout.yes'));
  t.ok(await page.getByText(en('signout.question', { brand: 'Acme ID' })).isVisible(), 'the question names the brand');

  const src = await page.locator('main > .brand img').getAttribute('src');
  const served = await fetch(new URL(src!, kh.origin));
  t.equal(served.status, 200);
  t.equal(served.headers.get('content-type'), 'image/svg+xml');
  t.equal(await served.text(), await readFile(logo, 'utf8'));
  t.same(problems, [], 'no script errors or CSP violations');
});

t.test('form_post: the page posts to the app by itself; without JavaScript, Back to it says signed in', async (t) => {
  const kh = await startTestApp(t);
  const rp = await startRp(t);
  const client = await registerRp(kh, rp);
  await createUser(kh.users, { username: 'alice' });
  const browser = await launchChromium(t);
  const { page, problems } = await openPage(t, browser, kh, 'pages-form-post');
  const posted = async (state: string) => {
    await page.waitForURL(rp.callback);
    const hit = rp.hits.at(-1)!;
    t.equal(hit.method, 'POST', `${state}: posted`);
    const body = new URLSearchParams(hit.body);
    t.equal(body.get('state'), state);
    t.match(body.get('code'), /^\S{20,}$/, `${state}: with a code`);
  };

  // After signing in (the engine's resume), then with the session (its authorization endpoint).
  await page.goto(authorize(kh, client.id, rp, { response_mode: 'form_post', state: 'after-sign-in' }));
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await posted('after-sign-in');
  await page.goto(authorize(kh, client.id, rp, { response_mode: 'form_post', state: 'signed-in' }));
  await posted('signed-in');
  t.same(problems, [], 'no script errors or CSP violations (the script is the one the policy allows)');

  // Without JavaScript the page stays in the history: Back to it, once the app has the code, says signed in.
  const context = await browser.newContext({ javaScriptEnabled: false });
  t.teardown(() => context.close());
  const still = await context.newPage();
  await still.goto(authorize(kh, client.id, rp, { response_mode: 'form_post', state: 'no-script' }));
  await still.getByLabel('Username').fill('alice');
  await still.getByLabel('Password').fill(PASSWORD);
  await still.getByRole('button', { name: 'Sign in' }).click();
  await still.getByRole('button', { name: 'Continue' }).click();
  await still.waitForURL(rp.callback);
  t.equal(new URLSearchParams(rp.hits.at(-1)!.body).get('state'), 'no-script');
  await still.goBack();
  t.equal(await heading(still), en('signin.done.title'), 'Back to the form_post page: signed in, not an error blamed on the app');
  t.equal(await still.getByRole('link', { name: en('page.back', { app: 'Test app' }) }).getAttribute('href'), `${rp.origin}/`);
});
