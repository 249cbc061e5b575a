import type Provider from 'oidc-provider';
import { isDatabaseUnavailable, reportOutage, RETRY_AFTER_SECONDS } from '../db/unavailable.ts';
import type { Logger } from '../logger.ts';
import { providerLocale, type Pages } from '../pages/views.ts';

/** What the token, introspection, revocation and userinfo endpoints answer while the database is unavailable. */
const UNAVAILABLE_ERROR = {
  error: 'temporarily_unavailable',
  error_description: `Keyhold cannot reach its database right now; try again in ${RETRY_AFTER_SECONDS} seconds`,
} as const;

/** The outage a provider request met, whether the engine's error handling caught it or it escaped. */
const outages = new WeakMap<object, unknown>();

/**
 * oidc-provider answers any error it does not know, a database outage included, as a 500
 * `server_error` (a page for browsers, JSON elsewhere), and emits `server_error` with the error. Here
 * that answer becomes a 503 with Retry-After: `temporarily_unavailable` JSON (RFC 6749 5.2, the value
 * OAuth has for this), or the unavailable page when the engine rendered a page. An outage that escapes
 * the engine's handling (a session saved after the answer was made) is answered the same way rather
 * than as a bare 500. Nothing about an outage counts as a failed client authentication: the client
 * checks let database errors through (client-secrets.ts), so they land here.
 *
 * Installed after the security headers middleware (app.ts), so the page gets a page's headers.
 */
export function installOutageAnswers(provider: Provider, logger: Logger, pages: Pages): void {
  provider.on('server_error', (ctx: object, err: unknown) => {
    if (isDatabaseUnavailable(err)) outages.set(ctx, err);
  });

  provider.use(async (ctx, next) => {
    let escaped = false;
    try {
      await next();
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      outages.set(ctx, err);
      escaped = true;
    }
    const err = outages.get(ctx);
    if (err === undefined) return;
    reportOutage(logger, err);
    // The engine chose a page or JSON for its answer; for an escaped error, choose as it does.
    const page = escaped || !ctx.body ? ctx.accepts('json', 'html') === 'html' : Boolean(ctx.response.is('html'));
    ctx.status = 503;
    ctx.remove('location');
    ctx.set('retry-after', String(RETRY_AFTER_SECONDS));
    ctx.set('cache-control', 'no-store');
    if (page) {
      ctx.type = 'html';
      ctx.body = pages.unavailable(providerLocale(ctx as never));
    } else {
      ctx.body = { ...UNAVAILABLE_ERROR };
    }
  });
}
