import { createHmac, timingSafeEqual } from 'node:crypto';
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
import { cspSource, escapeHtml, messagePage, page, unavailablePage } from '../../oidc/views.ts';
import { isDatabaseUnavailable, reportOutage, RETRY_AFTER_SECONDS } from '../../db/unavailable.ts';

export interface InteractionDeps {
  provider: Provider;
  users: UsersRepo;
  /** Key for the CSRF tokens of the sign-in form. */
  csrfKey: string;
  lockouts: Lockouts;
  limiter: RateLimiter;
  /** Sign-in posts allowed per address per minute, shared by every instance; 0 is no limit. */
  signinPerMinute: number;
  /** Sign-ins, failures and lockouts are recorded, off the request path. */
  audit: Pick<AuditTrail, 'later'>;
  /** Counts sign-ins, lockouts, 429s and password verifications. */
  metrics?: Pick<Metrics, 'signIn' | 'signInFailed' | 'rateLimited' | 'passwordVerified'>;
}

const WRONG_CREDENTIALS = 'Incorrect username or password.';
/** Shown, beside the usual message, while the name is locked: nothing else tells a lock from a wrong password. */
const TRY_LATER = 'Too many failed attempts: wait a few minutes, then try again.';

const loginForm = z.object({
  username: z.string().max(256),
  password: z.string().max(1024),
  csrf: z.string().max(256),
});

/**
 * The sign-in pages oidc-provider sends browsers to. Keyhold has no consent screen: a `consent`
 * prompt (raised only by `prompt=consent` or `offline_access`, never by the policy) is resolved at once.
 */
export async function interactionRoutes(app: FastifyInstance, deps: InteractionDeps) {
  const { provider, users } = deps;
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  // The pages' own URLs are on the issuer's origin, whatever host the request named.
  const origin = new URL(provider.issuer).origin;

  const csrfFor = (uid: string) => createHmac('sha256', deps.csrfKey).update(`interaction:${uid}`).digest('base64url');
  const csrfValid = (uid: string, token: string) => {
    const expected = Buffer.from(csrfFor(uid));
    const actual = Buffer.from(token);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  };

  /**
   * `formTarget` is the app's redirect URL: browsers apply form-action to the redirects that follow a form
   * submission too, and signing in (or cancelling) ends with a redirect to the app.
   */
  const html = (reply: FastifyReply, status: number, body: string, formTarget?: string) =>
    reply
      .code(status)
      .header('cache-control', 'no-store')
      .header('x-frame-options', 'DENY')
      .header(
        'content-security-policy',
        `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${cspSource(formTarget)}; frame-ancestors 'none'; base-uri 'none'`,
      )
      .type('text/html; charset=utf-8')
      .send(body);

  // A body Fastify refuses before a handler runs (too large, of another type, not parseable): a page, as
  // everything else here, never the API's problem+json.
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isDatabaseUnavailable(err)) {
      reportOutage(request.log, err);
      return html(reply.header('retry-after', String(RETRY_AFTER_SECONDS)), 503, unavailablePage());
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      request.log.error({ err }, 'request failed');
      return html(reply, 500, messagePage('Something went wrong', 'Keyhold could not finish this request. Go back to the application and start again.'));
    }
    return html(reply, status, messagePage('The sign-in form was not accepted', 'The form did not come from the sign-in page as sent. Reload the sign-in page and try again.'));
  });

  const loginPage = (uid: string, clientName: string | undefined, options: { username?: string; error?: string; hint?: string } = {}) =>
    page(
      'Sign in',
      `<h1>Sign in</h1>
${clientName ? `<p class="muted">to continue to <strong>${escapeHtml(clientName)}</strong></p>` : ''}
${options.error ? `<p class="error" role="alert" id="login-error">${escapeHtml(options.error)}${options.hint ? `<br>${escapeHtml(options.hint)}` : ''}</p>` : ''}
<form method="post" action="${origin}/interaction/${escapeHtml(uid)}/login" autocomplete="on">
  <input type="hidden" name="csrf" value="${escapeHtml(csrfFor(uid))}">
  <label for="username">Username</label>
  <input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required
    value="${escapeHtml(options.username ?? '')}"${options.username ? '' : ' autofocus'}${options.error ? ' aria-describedby="login-error" aria-invalid="true"' : ''}>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" autocomplete="current-password" required${options.username ? ' autofocus' : ''}>
  <button type="submit">Sign in</button>
</form>
<form method="post" action="${origin}/interaction/${escapeHtml(uid)}/abort">
  <input type="hidden" name="csrf" value="${escapeHtml(csrfFor(uid))}">
  <button type="submit" class="secondary">Cancel</button>
</form>`,
    );

  const redirectUriOf = (interaction: { params: Record<string, unknown> }) =>
    typeof interaction.params.redirect_uri === 'string' ? interaction.params.redirect_uri : undefined;

  /** Loads the interaction bound to this browser, or answers with a readable page. */
  async function details(request: FastifyRequest, reply: FastifyReply) {
    try {
      return await provider.interactionDetails(request.raw, reply.raw);
    } catch (err) {
      if (err instanceof errors.SessionNotFound || err instanceof errors.InvalidRequest) {
        html(
          reply,
          400,
          messagePage(
            'This sign-in has expired',
            'The sign-in page was open too long, or was opened in another browser. Go back to the application and start again.',
          ),
        );
        return undefined;
      }
      throw err;
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
      const client = await provider.Client.find(String(interaction.params.client_id));
      const hint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : undefined;
      return html(reply, 200, loginPage(interaction.uid, client?.clientName, hint ? { username: hint } : {}), redirectUriOf(interaction));
    }
    // Consent (reached when prompted, or for offline_access): the grant is settled by loadExistingGrant.
    return finish(request, reply, { consent: {} });
  });

  app.post<{ Params: { uid: string } }>('/interaction/:uid/login', async (request, reply) => {
    const interaction = await details(request, reply);
    if (!interaction) return reply;
    const parsed = loginForm.safeParse(request.body);
    if (!parsed.success || !csrfValid(interaction.uid, parsed.data.csrf)) {
      return html(
        reply,
        403,
        messagePage('The sign-in form was not accepted', 'The form was incomplete or did not come from this page. Reload the sign-in page and try again.'),
      );
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
        return html(
          reply,
          429,
          messagePage('Too many sign-in attempts', `Too many sign-in attempts came from your network. Wait ${hit.retryAfter} seconds, then try again.`),
        );
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
      return html(
        reply,
        401,
        loginPage(interaction.uid, client?.clientName, { username, error: WRONG_CREDENTIALS, ...(after.lockedUntil ? { hint: TRY_LATER } : {}) }),
        redirectUriOf(interaction),
      );
    }
    if (lock.failures > 0) await deps.lockouts.reset(username);
    // A hash of the password as typed before passwords were normalised: stored again in NFC form.
    if (verified.rehash) await users.replacePasswordHash(found.user.id, found.passwordHash!, verified.rehash);
    deps.audit.later({ type: 'signin.succeeded', actor: { kind: 'user', id: found.user.id, username: found.user.username }, target: { kind: 'user', id: found.user.id, name: found.user.username }, ...attempt, outcome: 'success' });
    request.log.info({ uid: interaction.uid, accountId: found.user.id }, 'signed in');
    deps.metrics?.signIn('success');
    return finish(request, reply, { login: { accountId: found.user.id, amr: ['pwd'] } });
  });

  app.post<{ Params: { uid: string } }>('/interaction/:uid/abort', async (request, reply) => {
    const interaction = await details(request, reply);
    if (!interaction) return reply;
    const csrf = (request.body as { csrf?: unknown } | undefined)?.csrf;
    if (typeof csrf !== 'string' || !csrfValid(interaction.uid, csrf)) {
      return html(reply, 403, messagePage('The form was not accepted', 'Reload the sign-in page and try again.'));
    }
    return finish(request, reply, { error: 'access_denied', error_description: 'the user cancelled the sign-in' });
  });
}
