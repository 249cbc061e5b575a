import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { UsersRepo } from '../repos/users.ts';
import { chooseLocale } from '../pages/i18n.ts';
import { escapeHtml, pagePolicy, pressOnLoad, providerLocale, type Pages } from '../pages/views.ts';

/**
 * The provider answers no configuration option renders: the self-submitting form_post pages (the
 * engine's own is unstyled English text without JavaScript: returning a response to the app, and going
 * on with a sign-out when nobody is signed in), the answer to "No, stay signed in" on the
 * sign-out page (the engine redirects to the app exactly as for "Yes", so neither the app nor the user
 * could tell), and a path it does not route (Koa's bare "Not Found"). Each is rewritten after the engine
 * has answered, from what it decided.
 */

/** The cookie the sign-in pages leave once a sign-in finished (http/interaction/routes.ts). */
const SIGNED_IN_MARKER = 'keyhold_signed_in=; Path=/interaction/; Max-Age=0; HttpOnly; SameSite=Lax';

/** The engine's form_post page: its form's action and hidden inputs, as it escaped them. */
const FORM = /<form method="post" action="([^"]*)">/;
const INPUT = /<input type="hidden" name="([^"]*)" value="([^"]*)"\/>/g;

const SUBMIT = pressOnLoad('keyhold-continue');

export function installPagePolish(provider: Provider, { pages, users, issuer }: { pages: Pages; users: Pick<UsersRepo, 'findById'>; issuer: string }): void {
  provider.use(async (ctx, next) => {
    await next();
    // The language is read only for a page rewritten here: token requests pay nothing for it.
    const localeOf = () => providerLocale(ctx as KoaContextWithOIDC);
    // An address below an endpoint that the engine does not route (/token/x): Keyhold's 404, not Koa's text.
    if (ctx.status === 404 && (ctx.body === undefined || ctx.body === null)) {
      ctx.set('cache-control', 'no-store');
      if (ctx.method === 'GET' && ctx.accepts('json', 'html') === 'html') {
        ctx.type = 'html';
        ctx.set('content-security-policy', pagePolicy(issuer));
        ctx.set('x-frame-options', 'DENY');
        const locale = localeOf();
        ctx.body = pages.message(locale, { title: pages.t(locale, 'error.not_found.title'), text: pages.t(locale, 'error.not_found.body') });
      } else {
        ctx.type = 'application/problem+json';
        ctx.body = JSON.stringify({ type: 'about:blank', title: 'Not found', status: 404, detail: `there is no ${ctx.method} ${ctx.path}` });
      }
      ctx.status = 404;
      return;
    }
    const oidc = (ctx as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
    if (!oidc) return;

    if (oidc.route === 'end_session_confirm' && ctx.status === 303) {
      // The sign-out page's language, posted with its form (the engine keeps no ui_locales).
      const asked = chooseLocale((oidc.body as { ui_locales?: unknown } | undefined)?.ui_locales, ctx.get('accept-language'));
      if (oidc.params?.['logout']) {
        ctx.append('set-cookie', SIGNED_IN_MARKER);
        const next = URL.parse(ctx.response.get('location'));
        // Carried on to the "Signed out" page when the browser's own language would not choose it.
        if (next?.pathname.endsWith('/session/end/success') && asked !== chooseLocale(undefined, ctx.get('accept-language'))) {
          next.searchParams.set('ui_locales', asked);
          ctx.set('location', next.href);
        }
        return;
      }
      // "No": the engine has signed the user out of the asking app only; Keyhold's session lives on.
      // Say so, with the way back to the app, instead of sending the browser there as a sign-out would.
      const back = ctx.response.get('location');
      const client = (oidc.entities as { Client?: { clientName?: string } }).Client;
      const usesLogoutUrl = !URL.parse(back)?.pathname.endsWith('/session/end/success');
      const accountId = oidc.session?.accountId;
      const user = accountId ? await users.findById(accountId) : undefined;
      ctx.status = 200;
      ctx.remove('location');
      ctx.type = 'html';
      ctx.set('content-security-policy', pagePolicy(issuer));
      ctx.body = pages.message(asked, {
        title: pages.t(asked, 'signout.stayed.title'),
        text: user ? pages.t(asked, 'signout.stayed.body', { user: user.username }) : pages.t(asked, 'signout.stayed.body_anonymous'),
        back: usesLogoutUrl ? { href: back, app: client?.clientName } : undefined,
      });
      return;
    }

    const engineForm = typeof ctx.body === 'string' && ctx.response.is('html') ? parseEngineFormPost(ctx.body) : undefined;
    if (!engineForm) return;
    if (oidc.route === 'authorization' || oidc.route === 'resume') {
      const app = oidc.client?.clientName ?? new URL(engineForm.action.replace(/&amp;/g, '&')).host;
      const locale = localeOf();
      const t = (key: string) => escapeHtml(pages.t(locale, key, { app }));
      ctx.body = pages.page(locale, pages.t(locale, 'formpost.title', { app }), continuePage(engineForm, `<h1>${t('formpost.title')}</h1>\n<p>${t('formpost.body')}</p>`, t('formpost.continue')));
      // The page's only script is this one: its hash replaces the engine's in the policy already set.
      const policy = ctx.response.get('content-security-policy');
      if (policy) ctx.set('content-security-policy', policy.replace(/script-src [^;]*/, `script-src ${SUBMIT.hash}`));
      return;
    }
    if (oidc.route === 'end_session') {
      // Nobody is signed in to Keyhold (the session ended, or another tab signed out): the engine goes
      // straight on to the confirmation with an unstyled page of its own. Say so, in the page's language,
      // which the form carries on to the "Signed out" page.
      const locale = localeOf();
      const t = (key: string) => escapeHtml(pages.t(locale, key));
      const form = { ...engineForm, inputs: [...engineForm.inputs, ['ui_locales', locale] as const] };
      ctx.body = pages.page(
        locale,
        pages.t(locale, 'signout.signing_out'),
        continuePage(form, `<h1>${t('signout.signing_out')}</h1>\n<p>${t('signout.not_signed_in')}</p>\n<noscript><p>${t('signout.continue_hint')}</p></noscript>`, t('signout.continue')),
      );
      const target = oidc.params?.['post_logout_redirect_uri'];
      ctx.set('content-security-policy', pagePolicy(issuer, { scriptHashes: [SUBMIT.hash], formTarget: typeof target === 'string' ? target : undefined }));
      ctx.set('x-frame-options', 'DENY');
    }
  });
}

/** The engine's self-submitting form_post page, if `body` is one: its action and hidden inputs, as it escaped them. */
function parseEngineFormPost(body: string): { action: string; inputs: ReadonlyArray<readonly [string, string]> } | undefined {
  const action = FORM.exec(body)?.[1];
  const inputs = [...body.matchAll(INPUT)].map(([, name, value]) => [name!, value!] as const);
  if (action === undefined || inputs.length === 0 || !body.includes('document.forms[0].submit()')) return undefined;
  return { action, inputs };
}

/** Keyhold's page body around the engine's form: `intro`, the form, a Continue button that the page's one script presses. */
function continuePage(form: { action: string; inputs: ReadonlyArray<readonly [string, string]> }, intro: string, label: string): string {
  // The values stay exactly as the engine escaped them (a value added here is a locale code).
  const hidden = form.inputs.map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`).join('\n');
  return `${intro}
<form method="post" action="${form.action}">
${hidden}
<button type="submit" id="keyhold-continue" autofocus>${label}</button>
</form>
<script>${SUBMIT.script}</script>`;
}
