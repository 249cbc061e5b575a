import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import type { Logger } from '../logger.ts';
import type { UsersRepo } from '../repos/users.ts';
import { chooseLocale, type Locale } from '../pages/i18n.ts';
import { appHome, escapeHtml, pagePolicy, pressOnLoad, providerLocale, type Back, type Pages } from '../pages/views.ts';

/** The sign-out page that asks nothing submits itself (with one Continue when JavaScript is off). */
const SIGN_OUT = pressOnLoad('keyhold-logout');

/**
 * The pages oidc-provider asks its configuration for: the sign-out question, the page after a sign-out,
 * and its error page. They speak the user's language and give a way forward (pages/views.ts).
 */

export interface PageSourceDeps {
  pages: Pages;
  users: Pick<UsersRepo, 'findById'>;
  issuer: string;
  logger: Logger;
  /** The sign-in page of an interaction (http/interaction/routes.ts). */
  interactionUrl: (uid: string) => string;
}

type RpInitiatedLogout = NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>;

/** True when the end-session request carries a valid id_token_hint for the account signed in here. */
function hintMatchesSession(ctx: KoaContextWithOIDC): boolean {
  const hint = (ctx.oidc.entities as { IdTokenHint?: { payload?: { sub?: unknown } } }).IdTokenHint;
  const accountId = ctx.oidc.session?.accountId;
  return accountId !== undefined && hint?.payload?.sub === accountId;
}

/**
 * The way back to the app an error page was reached from: the URL it named when its client registered
 * it, else the client's first registered web URL; nothing when the client is unknown.
 */
function backToApp(ctx: KoaContextWithOIDC): Back | undefined {
  const client = ctx.oidc?.client;
  if (!client) return undefined;
  const params = (ctx.oidc.params ?? {}) as Record<string, unknown>;
  const named = [params['redirect_uri'], params['post_logout_redirect_uri']].find(
    (uri): uri is string => typeof uri === 'string' && (client.redirectUriAllowed(uri) || client.postLogoutRedirectUriAllowed(uri)),
  );
  const home = appHome(named) ?? client.redirectUris?.map((uri) => appHome(uri)).find(Boolean);
  return home ? { href: home, app: client.clientName } : undefined;
}

export function createPageSources({ pages, users, issuer, logger, interactionUrl }: PageSourceDeps) {
  /** A request the app sent that Keyhold cannot accept, said to the user: never the app's address as given. */
  const requestErrorPage = (locale: Locale, { signingOut, detail, back }: { signingOut: boolean; detail: string; back?: Back | undefined }) =>
    pages.message(locale, {
      title: pages.t(locale, signingOut ? 'error.request.signout_title' : 'error.request.signin_title'),
      text: pages.t(locale, 'error.request.body'),
      detail,
      back,
    });

  const logoutSource: RpInitiatedLogout['logoutSource'] = async (ctx, form) => {
    ctx.type = 'html';
    const locale = providerLocale(ctx);
    const t = (key: string, params?: Record<string, string>) => escapeHtml(pages.t(locale, key, params));
    const target = ctx.oidc.params?.['post_logout_redirect_uri'] as string | undefined;
    // The answer to the form (oidc/pages.ts) speaks the language this page does: the engine keeps no ui_locales.
    form = form.replace('</form>', `<input type="hidden" name="ui_locales" value="${locale}"></form>`);
    // A valid id_token_hint for the signed-in user shows the request comes from an app that user
    // signed in to: sign out without asking (as Keycloak and Hydra do). Otherwise, ask.
    if (hintMatchesSession(ctx)) {
      // The engine's form is used as it is; the button that submits it lives outside it (form=...).
      ctx.set('content-security-policy', pagePolicy(issuer, { scriptHashes: [SIGN_OUT.hash], formTarget: target }));
      ctx.body = pages.page(
        locale,
        pages.t(locale, 'signout.signing_out'),
        `<h1>${t('signout.signing_out')}</h1>
${form}
<noscript><p>${t('signout.continue_hint')}</p></noscript>
<button type="submit" form="op.logoutForm" name="logout" value="yes" id="keyhold-logout">${t('signout.continue')}</button>
<script>${SIGN_OUT.script}</script>`,
      );
      return;
    }
    // Who asks and who would be signed out, so nobody signs out of the wrong thing.
    const app = ctx.oidc.client?.clientName;
    const accountId = ctx.oidc.session?.accountId;
    const user = accountId ? await users.findById(accountId) : undefined;
    ctx.body = pages.page(
      locale,
      pages.t(locale, 'signout.title'),
      `<h1>${t('signout.title')}</h1>
${app ? `<p>${t('signout.asked_by', { app })}</p>` : ''}
${user ? `<p>${t('signout.account', { user: user.username })}</p>` : ''}
<p>${t('signout.question')}</p>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>${t('signout.yes')}</button>
<button type="submit" form="op.logoutForm" class="secondary">${t('signout.no')}</button>`,
    );
  };

  // Reached after a sign-out without a logout URL, or opened directly: it says "signed out" only when no
  // session is left in this browser.
  const postLogoutSuccessSource: RpInitiatedLogout['postLogoutSuccessSource'] = async (ctx) => {
    ctx.type = 'html';
    // ui_locales in the query: the sign-out page's language, carried by oidc/pages.ts.
    const locale = chooseLocale(ctx.query['ui_locales'], ctx.get('accept-language'));
    const session = await ctx.oidc.provider.Session.get(ctx);
    const user = session.accountId ? await users.findById(session.accountId) : undefined;
    ctx.body = user
      ? pages.message(locale, { title: pages.t(locale, 'signout.stayed.title'), text: pages.t(locale, 'signout.stayed.body', { user: user.username }) })
      : pages.message(locale, { title: pages.t(locale, 'signout.done.title'), text: pages.t(locale, 'signout.done.body') });
  };

  const renderError: NonNullable<Configuration['renderError']> = async (ctx, out, error) => {
    // The address a finished sign-in resumed at, opened again (Back past a form_post page): not the app's
    // fault. The sign-in page's own address says whether this browser finished it, or that it expired.
    const uid = (ctx as { params?: { uid?: unknown } }).params?.uid;
    if (ctx.oidc?.route === 'resume' && error instanceof errors.SessionNotFound && typeof uid === 'string') {
      ctx.status = 303;
      ctx.set('cache-control', 'no-store');
      ctx.redirect(interactionUrl(uid));
      return;
    }
    const locale = providerLocale(ctx);
    // A database outage: the unavailable page, answered 503 and logged by oidc/outage.ts.
    if (isDatabaseUnavailable(error)) {
      ctx.type = 'html';
      ctx.body = pages.unavailable(locale);
      return;
    }
    if ((error as { statusCode?: number }).statusCode === undefined || (error as { statusCode: number }).statusCode >= 500) {
      logger.error({ err: error }, 'provider error');
    }
    ctx.type = 'html';
    ctx.body = requestErrorPage(locale, {
      signingOut: ctx.oidc?.route?.startsWith('end_session') === true,
      detail: `${out.error}${out.error_description ? `: ${out.error_description}` : ''}`,
      back: backToApp(ctx),
    });
  };

  return { logoutSource, postLogoutSuccessSource, renderError, requestErrorPage };
}
