import formbody from '@fastify/formbody';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { z } from 'zod';
import type { Metrics } from '../../metrics.ts';
import type { UsersRepo } from '../../repos/users.ts';
import type { AuditTrail } from '../../audit.ts';
import { normalizeUsername, verifyNoPassword, verifyPassword } from '../../security/credentials.ts';
import type { Lockouts } from '../../security/lockouts.ts';
import type { RateLimiter } from '../../security/rate-limits.ts';
import { chooseLocale, type Locale } from '../../pages/i18n.ts';
import { appHome, escapeHtml, pagePolicy, type Back, type Pages } from '../../pages/views.ts';
import { isDatabaseUnavailable, reportOutage, RETRY_AFTER_SECONDS } from '../../db/unavailable.ts';
import { signedCookies } from './signed-cookies.ts';

export interface InteractionDeps {
  provider: Provider;
  users: UsersRepo;
  /** Key for the CSRF tokens of the sign-in form and the signatures of its cookies. */
  csrfKey: string;
  lockouts: Lockouts;
  limiter: RateLimiter;
  /** Sign-in posts allowed per address per minute, shared by every instance; 0 is no limit. */
  signinPerMinute: number;
  /** Sign-ins, failures and lockouts are recorded, off the request path. */
  audit: Pick<AuditTrail, 'later'>;
  /** Counts sign-ins, lockouts, 429s and password verifications. */
  metrics?: Pick<Metrics, 'signIn' | 'signInFailed' | 'rateLimited' | 'passwordVerified'>;
  pages: Pages;
}

/** What the form states and holds to: longer input is answered as a wrong password, never as a broken form. */
export const USERNAME_MAX = 256;
export const PASSWORD_MAX = 1024;

/** The body the sign-in form posts; anything within the body limit is read, and judged by the rules above. */
const loginForm = z.object({
  username: z.string(),
  password: z.string(),
  csrf: z.string().max(256),
});

/**
 * The outcome of a failed sign-in, carried across Post/Redirect/Get in a short-lived signed cookie: the
 * page that follows is a GET, so Back and reload never post the form again. Holds the name as typed
 * (the page shows it back) and why it failed; never the password.
 */
const FLASH_COOKIE = 'keyhold_signin';
/** Left by a finished sign-in: Back, or a second tab of it, is told the user is signed in, not that it expired. */
const DONE_COOKIE = 'keyhold_signed_in';
const COOKIE_PATH = '/interaction/';

interface Flash {
  uid: string;
  username: string;
  locked: boolean;
}

interface Done {
  uid: string;
  user: string;
  app: string | undefined;
  home: string | undefined;
  /** The sign-in's language (its ui_locales, else the browser's): what follows says it in the same one. */
  locale?: Locale;
}

/**
 * The sign-in pages oidc-provider sends browsers to. Keyhold has no consent screen: a `consent`
 * prompt (raised only by `prompt=consent` or `offline_access`, never by the policy) is resolved at once.
 */
export async function interactionRoutes(app: FastifyInstance, deps: InteractionDeps) {
  const { provider, users, pages } = deps;
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  // The pages' own URLs are on the issuer's origin, whatever host the request named.
  const origin = new URL(provider.issuer).origin;
  const secure = origin.startsWith('https:');

  const { csrfFor, csrfValid, cookie, seal, unseal } = signedCookies(deps.csrfKey, { path: COOKIE_PATH, secure });

  const localeOf = (request: FastifyRequest, params?: Record<string, unknown>) => chooseLocale(params?.['ui_locales'], request.headers['accept-language']);

  /**
   * `formTarget` is the app's redirect URL: browsers apply form-action to the redirects that follow a form
   * submission too, and signing in (or cancelling) ends with a redirect to the app.
   */
  const html = (reply: FastifyReply, status: number, body: string, formTarget?: string) =>
    reply
      .code(status)
      .header('cache-control', 'no-store')
      .header('x-frame-options', 'DENY')
      .header('content-security-policy', pagePolicy(provider.issuer, { formTarget }))
      .type('text/html; charset=utf-8')
      .send(body);

  const t = pages.t;
  const message = (reply: FastifyReply, status: number, locale: Locale, titleKey: string, textKey: string, options: { back?: Back | undefined; params?: Record<string, string | number> } = {}) =>
    html(reply, status, pages.message(locale, { title: t(locale, titleKey), text: t(locale, textKey, options.params), back: options.back }));

  // A body Fastify refuses before a handler runs (too large, of another type, not parseable): a page, as
  // everything else here, never the API's problem+json.
  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    let locale = localeOf(request);
    if (isDatabaseUnavailable(err)) {
      reportOutage(request.log, err);
      return html(reply.header('retry-after', String(RETRY_AFTER_SECONDS)), 503, pages.unavailable(locale));
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      request.log.error({ err }, 'request failed');
      return message(reply, 500, locale, 'error.title', 'error.body');
    }
    // A form of a sign-in still under way: its page's language, and the way back to it.
    const uid = /^\/interaction\/([^/?]+)/.exec(request.url)?.[1];
    const found = uid ? await provider.interactionDetails(request.raw, reply.raw).catch(() => undefined) : undefined;
    const interaction = found?.uid === uid ? found : undefined;
    if (interaction) locale = localeOf(request, interaction.params);
    return formRefused(reply, status, locale, interaction?.uid);
  });

  const signInPage = (uid: string, locale: Locale) => ({ href: `${origin}/interaction/${encodeURIComponent(uid)}`, label: t(locale, 'signin.back_to_form') });
  /** "The sign-in form was not accepted", with the way back to the sign-in page when the sign-in is known. */
  const formRefused = (reply: FastifyReply, status: number, locale: Locale, uid: string | undefined) =>
    message(reply, status, locale, 'signin.refused.title', 'signin.refused.body', { back: uid ? signInPage(uid, locale) : undefined });

  const loginPage = (locale: Locale, uid: string, clientName: string | undefined, options: { username?: string; error?: boolean; locked?: boolean } = {}) => {
    const error = options.error ? `${t(locale, 'signin.wrong')}${options.locked ? ` ${t(locale, 'signin.try_later')}` : ''}` : '';
    // The field that has focus names the error, so a screen reader says it as the page opens.
    const invalid = options.error ? ' aria-describedby="login-error" aria-invalid="true"' : '';
    const focusPassword = Boolean(options.username);
    return pages.page(
      locale,
      t(locale, 'signin.title'),
      `<h1>${escapeHtml(t(locale, 'signin.title'))}</h1>
${clientName ? `<p class="muted">${escapeHtml(t(locale, 'signin.to_app', { app: '\u0000' })).replace('\u0000', () => `<strong dir="auto">${escapeHtml(clientName)}</strong>`)}</p>` : ''}
${error ? `<p class="error" role="alert" id="login-error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${origin}/interaction/${escapeHtml(uid)}/login" autocomplete="on">
  <input type="hidden" name="csrf" value="${escapeHtml(csrfFor(uid))}">
  <label for="username">${escapeHtml(t(locale, 'signin.username'))}</label>
  <input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="${USERNAME_MAX}" dir="auto"
    value="${escapeHtml(options.username ?? '')}"${focusPassword ? '' : ' autofocus'}${focusPassword ? '' : invalid}>
  <label for="password">${escapeHtml(t(locale, 'signin.password'))}</label>
  <input type="password" id="password" name="password" autocomplete="current-password" required maxlength="${PASSWORD_MAX}"${focusPassword ? ` autofocus${invalid}` : ''}>
  <button type="submit">${escapeHtml(t(locale, 'signin.submit'))}</button>
</form>
<form method="post" action="${origin}/interaction/${escapeHtml(uid)}/abort">
  <input type="hidden" name="csrf" value="${escapeHtml(csrfFor(uid))}">
  <button type="submit" class="secondary">${escapeHtml(t(locale, 'signin.cancel'))}</button>
</form>`,
    );
  };

  const redirectUriOf = (interaction: { params: Record<string, unknown> }) =>
    typeof interaction.params.redirect_uri === 'string' ? interaction.params.redirect_uri : undefined;

  /**
   * Loads the interaction bound to this browser, or answers with a readable page: "you are signed in"
   * when this browser finished it (Back after signing in, a second tab of the same sign-in), else "expired".
   */
  async function details(request: FastifyRequest<{ Params: { uid: string } }>, reply: FastifyReply) {
    try {
      return await provider.interactionDetails(request.raw, reply.raw);
    } catch (err) {
      if (!(err instanceof errors.SessionNotFound || err instanceof errors.InvalidRequest)) throw err;
      const done = unseal<Done>(request, DONE_COOKIE);
      if (done?.uid === request.params.uid) {
        const locale = chooseLocale(done.locale, request.headers['accept-language']);
        const back = done.home ? { href: done.home, app: done.app } : undefined;
        const text = done.app && back ? t(locale, 'signin.done.body', { user: done.user, app: done.app }) : t(locale, 'signin.done.body_unknown_app', { user: done.user });
        html(reply, 200, pages.message(locale, { title: t(locale, 'signin.done.title'), text, back }));
        return undefined;
      }
      message(reply, 400, localeOf(request), 'signin.expired.title', 'signin.expired.body');
      return undefined;
    }
  }

  async function finish(request: FastifyRequest, reply: FastifyReply, result: Record<string, unknown>) {
    const redirectTo = await provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: false });
    return reply.header('cache-control', 'no-store').redirect(redirectTo, 303);
  }

  app.get<{ Params: { uid: string } }>('/interaction/:uid', async (request, reply) => {
    const interaction = await details(request, reply);
    if (!interaction) return reply;
    if (interaction.prompt.name === 'login') {
      const locale = localeOf(request, interaction.params);
      const client = await provider.Client.find(String(interaction.params.client_id));
      const flash = unseal<Flash>(request, FLASH_COOKIE);
      if (flash?.uid === interaction.uid) {
        reply.header('set-cookie', cookie(FLASH_COOKIE, '', 0));
        return html(reply, 200, loginPage(locale, interaction.uid, client?.clientName, { username: flash.username, error: true, locked: flash.locked }), redirectUriOf(interaction));
      }
      const hint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint.slice(0, USERNAME_MAX) : undefined;
      return html(reply, 200, loginPage(locale, interaction.uid, client?.clientName, hint ? { username: hint } : {}), redirectUriOf(interaction));
    }
    // Consent (reached when prompted, or for offline_access): the grant is settled by loadExistingGrant.
    return finish(request, reply, { consent: {} });
  });

  // The form's own address typed into the address bar (it shows there after a post): the sign-in page.
  app.get<{ Params: { uid: string } }>('/interaction/:uid/login', async (request, reply) =>
    reply.header('cache-control', 'no-store').redirect(`${origin}/interaction/${encodeURIComponent(request.params.uid)}`, 303),
  );

  app.post<{ Params: { uid: string } }>('/interaction/:uid/login', async (request, reply) => {
    const interaction = await details(request, reply);
    if (!interaction) return reply;
    const locale = localeOf(request, interaction.params);
    const parsed = loginForm.safeParse(request.body);
    if (!parsed.success || !csrfValid(interaction.uid, parsed.data.csrf)) {
      return formRefused(reply, 403, locale, interaction.uid);
    }
    if (interaction.prompt.name !== 'login') return finish(request, reply, { consent: {} });
    if (deps.signinPerMinute > 0) {
      // Counted before any password is checked: beyond the limit, no guess is evaluated at all.
      const hit = await deps.limiter.hit(`signin:address:${request.ip}`, deps.signinPerMinute);
      if (!hit.allowed) {
        request.log.warn({ uid: interaction.uid, address: request.ip }, 'sign-in refused: too many attempts from this address');
        deps.metrics?.rateLimited('signin_address');
        deps.metrics?.signIn('rate_limited');
        reply.header('retry-after', String(hit.retryAfter));
        return message(reply, 429, locale, 'signin.too_many.title', 'signin.too_many.body', { params: { seconds: hit.retryAfter }, back: signInPage(interaction.uid, locale) });
      }
    }
    // Trimmed: " alice " is alice, as "ALICE" is; the password is taken as typed (credentials.ts).
    const { password } = parsed.data;
    const username = normalizeUsername(parsed.data.username);
    const client = await provider.Client.find(String(interaction.params.client_id));
    const [found, lock] = await Promise.all([
      // Postgres text holds no U+0000: no account has such a name, and the query would fail.
      username && !username.includes('\u0000') ? users.findCredentials(username) : undefined,
      // Counts are filed under a digest of the name, whatever it holds.
      username ? deps.lockouts.state(username) : { failures: 0, lockedUntil: undefined },
    ]);
    // A locked name is refused like a wrong password, after the same work (the same argon2id verifications
    // and the same statements), so neither the page, the status nor the time tells them apart.
    const verifyStarted = performance.now();
    const verified = lock.lockedUntil
      ? await verifyNoPassword(password)
      : found?.passwordHash && !found.user.disabled
        ? await verifyPassword(found.passwordHash, password)
        : await verifyNoPassword(password);
    const ok = verified.ok;
    deps.metrics?.passwordVerified('signin', verifyStarted);
    const clientId = String(interaction.params.client_id);
    const attempt = { clientId, userId: found?.user.id ?? null, address: request.ip };
    if (!ok || !found) {
      const after = username ? await deps.lockouts.recordFailure(username) : lock;
      deps.metrics?.signInFailed(lock.lockedUntil !== undefined, after.lockedUntil !== undefined);
      // What was typed as a name is not recorded unless it is a user's: people type passwords there.
      const about = found ? { target: { kind: 'user' as const, id: found.user.id, name: found.user.username } } : {};
      const known = found ? {} : { knownUser: false };
      const reason = lock.lockedUntil ? 'locked' : 'wrong_credentials';
      deps.audit.later({ type: 'signin.failed', actor: { kind: 'anonymous' }, ...attempt, ...about, outcome: 'failure', details: { reason, ...known } });
      if (after.lockedUntil && !lock.lockedUntil) {
        const details = { until: after.lockedUntil.toISOString(), failures: after.failures, ...known };
        deps.audit.later({ type: 'user.locked', actor: { kind: 'system' }, ...attempt, ...about, outcome: 'success', details });
      }
      request.log.info({ uid: interaction.uid, locked: after.lockedUntil !== undefined }, 'sign-in failed');
      // Post/Redirect/Get: the page saying so is a GET of the sign-in page, so Back and reload post nothing.
      const flash: Flash = { uid: interaction.uid, username: username.slice(0, USERNAME_MAX), locked: after.lockedUntil !== undefined };
      return reply
        .code(303)
        .header('cache-control', 'no-store')
        .header('set-cookie', cookie(FLASH_COOKIE, seal(FLASH_COOKIE, flash), 300))
        .redirect(`${origin}/interaction/${encodeURIComponent(interaction.uid)}`, 303);
    }
    if (lock.failures > 0) await deps.lockouts.reset(username);
    // A hash of the password as typed before passwords were normalised: stored again in NFC form.
    if (verified.rehash) await users.replacePasswordHash(found.user.id, found.passwordHash!, verified.rehash);
    deps.audit.later({ type: 'signin.succeeded', actor: { kind: 'user', id: found.user.id, username: found.user.username }, target: { kind: 'user', id: found.user.id, name: found.user.username }, ...attempt, outcome: 'success' });
    request.log.info({ uid: interaction.uid, accountId: found.user.id }, 'signed in');
    deps.metrics?.signIn('success');
    const done: Done = { uid: interaction.uid, user: found.user.username, app: client?.clientName, home: appHome(redirectUriOf(interaction)), locale };
    reply.header('set-cookie', [cookie(DONE_COOKIE, seal(DONE_COOKIE, done), 3600), cookie(FLASH_COOKIE, '', 0)]);
    return finish(request, reply, { login: { accountId: found.user.id, amr: ['pwd'] } });
  });

  app.post<{ Params: { uid: string } }>('/interaction/:uid/abort', async (request, reply) => {
    const interaction = await details(request, reply);
    if (!interaction) return reply;
    const csrf = (request.body as { csrf?: unknown } | undefined)?.csrf;
    if (typeof csrf !== 'string' || !csrfValid(interaction.uid, csrf)) {
      const locale = localeOf(request, interaction.params);
      return formRefused(reply, 403, locale, interaction.uid);
    }
    return finish(request, reply, { error: 'access_denied', error_description: 'the user cancelled the sign-in' });
  });
}
