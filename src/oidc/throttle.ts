import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import type { RateLimiter } from '../security/rate-limits.ts';

/** The endpoints where a client authenticates, below the provider's mount path. */
const GUARDED_PATHS = new Set(['/token', '/token/introspection', '/token/revocation']);

/** The longest a failed client authentication is held back before its answer, in ms. */
const MAX_SLOWDOWN_MS = 2_000;

const addresses = new WeakMap<IncomingMessage, string>();

/**
 * The client's address as the HTTP host resolved it (honouring one trusted proxy hop with
 * TRUST_PROXY), handed to the provider with the raw request.
 */
export function rememberAddress(request: IncomingMessage, address: string): void {
  addresses.set(request, address);
}

/** What one token request learned about its client's authentication, for the answer's accounting. */
interface Outcome {
  failedClientId?: string;
  retryAfter?: number;
}
const outcomes = new WeakMap<object, Outcome>();

function outcome(): Outcome | undefined {
  const ctx = Provider.ctx;
  if (!ctx) return undefined;
  let found = outcomes.get(ctx);
  if (!found) outcomes.set(ctx, (found = {}));
  return found;
}

class TooManyRequests extends errors.OIDCProviderError {
  override error_description: string;
  constructor(description: string) {
    super(429, 'temporarily_unavailable');
    this.error_description = description;
  }
}

const addressBucket = (address: string) => `token:address:${address}`;
const clientBucket = (clientId: string) => `token:client:${clientId}`;

function tooMany(ctx: KoaContextWithOIDC, retryAfter: number, description: string) {
  ctx.status = 429;
  ctx.set('retry-after', String(retryAfter));
  ctx.set('cache-control', 'no-store');
  ctx.body = { error: 'temporarily_unavailable', error_description: description };
}

/**
 * Failed requests at the token, introspection and revocation endpoints are counted per address, and
 * failed client authentications per client, in counters every instance shares (security/rate-limits.ts).
 * Beyond `perMinute`, the address or client is answered 429 with Retry-After before any work is done for
 * it, on every instance; a client's failures past half the limit are answered more and more slowly first.
 * Requests that succeed are neither counted nor delayed, and cost no query.
 */
export interface TokenThrottleDeps {
  limiter: RateLimiter;
  perMinute: number;
  /** Hears every failed authentication of a client that exists, counted or not (the audit trail). */
  onClientAuthFailure?: (failure: { clientId: string; address: string; endpoint: string }) => void;
  /** Hears every 429 the limits answer (metrics). */
  onLimited?: (limit: 'token_address' | 'token_client') => void;
}

/** The client's address as the HTTP host resolved it (see rememberAddress). */
export function addressOf(request: IncomingMessage): string {
  return addresses.get(request) ?? request.socket.remoteAddress ?? 'unknown';
}

export function createTokenThrottle({ limiter, perMinute, onClientAuthFailure, onLimited }: TokenThrottleDeps) {
  const slowdownFrom = Math.ceil(perMinute / 2);

  return {
    /** Wraps the client secret check: a closed client is refused before its secret is looked at. */
    guardSecretCheck(verify: (clientId: string, presented: string) => Promise<boolean>) {
      return async (clientId: string, presented: string) => {
        const closedFor = perMinute === 0 ? 0 : limiter.closedFor(clientBucket(clientId));
        if (closedFor > 0) {
          const o = outcome();
          if (o) o.retryAfter = closedFor;
          onLimited?.('token_client');
          throw new TooManyRequests(`too many failed authentications for this client: retry after ${closedFor} seconds`);
        }
        const ok = await verify(clientId, presented);
        if (!ok) {
          const o = outcome();
          if (o) o.failedClientId = clientId;
        }
        return ok;
      };
    },

    /** Provider middleware: refuses closed addresses, counts failures, and answers 429 beyond the limit. */
    middleware() {
      return async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
        if (ctx.method !== 'POST' || !GUARDED_PATHS.has(ctx.path)) return next();
        const address = addressOf(ctx.req);
        const closedFor = perMinute === 0 ? 0 : limiter.closedFor(addressBucket(address));
        if (closedFor > 0) {
          onLimited?.('token_address');
          return tooMany(ctx, closedFor, `too many failed requests from this address: retry after ${closedFor} seconds`);
        }

        await next();

        const o = outcomes.get(ctx);
        if (o?.failedClientId) onClientAuthFailure?.({ clientId: o.failedClientId, address, endpoint: ctx.oidc?.route ?? ctx.path });
        if (perMinute === 0) return;
        if (ctx.status === 429) {
          if (o?.retryAfter) ctx.set('retry-after', String(o.retryAfter));
          return;
        }
        if (ctx.status < 400 || ctx.status >= 500) return;
        // One statement either way, so a failure for a client that exists costs what one for an unknown client costs.
        // With the database unavailable the failure is answered as it is, uncounted: anything worth
        // guessing (a secret, a code, a token) needs the database to be checked, and fails with 503.
        const [byAddress, byClient] = await limiter
          .hitEach(o?.failedClientId ? [addressBucket(address), clientBucket(o.failedClientId)] : [addressBucket(address)], perMinute)
          .catch((err: unknown) => {
            if (isDatabaseUnavailable(err)) return [];
            throw err;
          });
        if (!byAddress) return;
        if (byClient && !byClient.allowed) {
          onLimited?.('token_client');
          return tooMany(ctx, byClient.retryAfter, `too many failed authentications for this client: retry after ${byClient.retryAfter} seconds`);
        }
        if (!byAddress.allowed) {
          onLimited?.('token_address');
          return tooMany(ctx, byAddress.retryAfter, `too many failed requests from this address: retry after ${byAddress.retryAfter} seconds`);
        }
        // Past half the limit, each further failure for the client waits longer for its answer.
        if (byClient && byClient.count > slowdownFrom) {
          await sleep(Math.min(MAX_SLOWDOWN_MS, 100 * 2 ** (byClient.count - slowdownFrom - 1)));
        }
      };
    },
  };
}
