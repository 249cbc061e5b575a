import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import packageJson from '../package.json' with { type: 'json' };
import type { Pool, PoolClient } from './db/pool.ts';

/**
 * Keyhold's Prometheus metrics, on a registry of each app's own (several apps in one process, as in the
 * tests, keep their counts apart). Every label takes its values from a fixed set: route patterns, never
 * raw URLs; the provider's endpoint names; known grant types and OAuth error codes, anything else
 * `other`. No label ever carries a client id, a username, an address or anything a request chose.
 *
 * The process's own metrics (CPU, memory, event-loop lag, GC, handles: prom-client's default metrics,
 * under their standard `process_` and `nodejs_` names, which existing dashboards and alerts expect) are
 * the same for every app in a process: they live in one registry per process, rendered with each app's.
 */

/** Why a sign-in post ended as it did. `locked`: refused because the name was locked (whatever the password). */
const SIGN_IN_OUTCOMES = ['success', 'failure', 'locked', 'rate_limited'] as const;
export type SignInOutcome = (typeof SIGN_IN_OUTCOMES)[number];
/** The limits that answer 429 (security/rate-limits.ts). */
const RATE_LIMITS = ['signin_address', 'token_address', 'token_client'] as const;
export type RateLimit = (typeof RATE_LIMITS)[number];
/** What an argon2id verification was for: a sign-in password, or a client secret issued before digests. */
const VERIFICATION_PURPOSES = ['signin', 'client_secret'] as const;
export type VerificationPurpose = (typeof VERIFICATION_PURPOSES)[number];

type ProviderMiddleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const GRANT_TYPES = new Set(['authorization_code', 'refresh_token', 'client_credentials']);
/** OAuth 2.0 and OpenID Connect error codes a token endpoint answers with. */
const TOKEN_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'invalid_dpop_proof',
  'use_dpop_nonce',
  'temporarily_unavailable',
  'server_error',
]);
/** oidc-provider's route names are identifiers of its router (`token`, `cors.token`, `end_session_confirm`). */
const PROVIDER_ROUTE_NAME = /^(cors\.)?[a-z_]{1,40}$/;
/**
 * The provider's endpoints by path (below the mount), for requests answered before the provider's router
 * named them (a 429 for an address already refused, oidc/throttle.ts).
 */
const PROVIDER_PATHS: Record<string, string> = {
  '/token': 'token',
  '/token/introspection': 'introspection',
  '/token/revocation': 'revocation',
};

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DB_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const VERIFICATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export interface MetricsOptions {
  /** The database pool: its connections are reported and every statement on them timed. */
  pool: Pool;
}

export function createMetrics({ pool }: MetricsOptions) {
  const registry = new Registry();
  const registers = [registry];
  const started = Date.now();

  new Gauge({ name: 'keyhold_info', help: 'Always 1; the version of Keyhold running.', labelNames: ['version'], registers }).set(
    { version: packageJson.version },
    1,
  );
  new Gauge({
    name: 'keyhold_uptime_seconds',
    help: 'Seconds since this instance was built.',
    registers,
    collect() {
      this.set((Date.now() - started) / 1000);
    },
  });

  const requestDuration = new Histogram({
    name: 'keyhold_http_request_duration_seconds',
    help: 'HTTP requests answered, by method, route (a route pattern, or the OpenID provider endpoint\'s name) and status.',
    labelNames: ['method', 'route', 'status'],
    buckets: HTTP_BUCKETS,
    registers,
  });
  const tokenRequests = new Counter({
    name: 'keyhold_token_requests_total',
    help: 'Token endpoint requests, by grant type and outcome (success, or the OAuth error code answered).',
    labelNames: ['grant_type', 'outcome'],
    registers,
  });
  const signIns = new Counter({
    name: 'keyhold_signins_total',
    help: 'Sign-in form posts, by outcome: success, failure, locked (the name was locked), rate_limited.',
    labelNames: ['outcome'],
    registers,
  });
  const lockouts = new Counter({
    name: 'keyhold_lockouts_total',
    help: 'Names locked after consecutive failed sign-ins (whether or not such an account exists).',
    registers,
  });
  const rateLimited = new Counter({
    name: 'keyhold_rate_limited_total',
    help: 'Requests answered 429, by limit: signin_address, token_address, token_client.',
    labelNames: ['limit'],
    registers,
  });
  const verifications = new Counter({
    name: 'keyhold_password_verifications_total',
    help: 'argon2id verifications, by purpose: signin (a sign-in password) or client_secret (a secret issued before digests).',
    labelNames: ['purpose'],
    registers,
  });
  const verificationDuration = new Histogram({
    name: 'keyhold_password_verification_duration_seconds',
    help: 'Time of argon2id verifications, by purpose.',
    labelNames: ['purpose'],
    buckets: VERIFICATION_BUCKETS,
    registers,
  });
  // The few fixed series start at 0, so that a rate is defined (and an alert can fire) from the first scrape.
  for (const outcome of SIGN_IN_OUTCOMES) signIns.inc({ outcome }, 0);
  for (const limit of RATE_LIMITS) rateLimited.inc({ limit }, 0);
  for (const purpose of VERIFICATION_PURPOSES) verifications.inc({ purpose }, 0);

  const queryDuration = new Histogram({
    name: 'keyhold_db_query_duration_seconds',
    help: 'Time from sending a statement on a pool connection to its answer.',
    buckets: DB_BUCKETS,
    registers,
  });
  const queryErrors = new Counter({ name: 'keyhold_db_query_errors_total', help: 'Statements that failed.', registers });
  new Gauge({
    name: 'keyhold_db_pool_connections',
    help: 'Database connections open in the pool, by state: idle or in_use.',
    labelNames: ['state'],
    registers,
    collect() {
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'in_use' }, pool.totalCount - pool.idleCount);
    },
  });
  new Gauge({
    name: 'keyhold_db_pool_waiting_requests',
    help: 'Requests waiting for a pool connection.',
    registers,
    collect() {
      this.set(pool.waitingCount);
    },
  });
  new Gauge({
    name: 'keyhold_db_pool_max_connections',
    help: 'The most connections the pool opens.',
    registers,
    collect() {
      this.set(pool.options.max);
    },
  });

  // Every statement is timed on the connection that runs it: pool.query, transactions and batched
  // statements alike (each connection's query is wrapped once, when the pool first hands it out).
  let closed = false;
  const instrumented = new WeakSet<PoolClient>();
  const observeQuery = (startedAt: number, err: unknown) => {
    queryDuration.observe((performance.now() - startedAt) / 1000);
    if (err) queryErrors.inc();
  };
  const onAcquire = (client: PoolClient) => {
    if (instrumented.has(client)) return;
    instrumented.add(client);
    // The statement goes on to whatever ran it before: another app's timing of a shared pool (an own
    // property), or the connection's class, looked up at each call so that a later wrapper there still runs.
    const wrapped = Object.hasOwn(client, 'query') ? (client.query as (...args: unknown[]) => unknown) : undefined;
    const run = (args: unknown[]): unknown => (wrapped ?? (Object.getPrototypeOf(client).query as (...a: unknown[]) => unknown)).apply(client, args);
    client.query = function timedQuery(...args: unknown[]) {
      const config = args[0] as { submit?: unknown; callback?: unknown } | undefined;
      // Submittables (cursors, streams) and callbacks inside a query config are passed through untimed.
      if (closed || typeof config?.submit === 'function' || typeof config?.callback === 'function') return run(args);
      const startedAt = performance.now();
      const at = typeof args[1] === 'function' ? 1 : typeof args[2] === 'function' ? 2 : -1;
      if (at !== -1) {
        const callback = args[at] as (err: unknown, result: unknown) => void;
        args[at] = (err: unknown, result: unknown) => {
          observeQuery(startedAt, err);
          callback(err, result);
        };
        return run(args);
      }
      const result = run(args) as Promise<unknown> | undefined;
      if (typeof result?.then === 'function') result.then(
        () => observeQuery(startedAt, undefined),
        (err: unknown) => observeQuery(startedAt, err ?? true),
      );
      return result;
    } as PoolClient['query'];
  };
  pool.on('acquire', onAcquire);

  // The provider's endpoint names, for the requests handed to it (http/provider-mount.ts): Fastify times
  // them, the provider names them.
  const providerRoutes = new WeakMap<IncomingMessage, string>();

  const tokenOutcome = (ctx: KoaContextWithOIDC, threw: boolean): string => {
    if (threw) return 'server_error';
    if (ctx.status < 400) return 'success';
    const error = typeof ctx.body === 'object' && ctx.body !== null ? (ctx.body as { error?: unknown }).error : undefined;
    return typeof error === 'string' && TOKEN_ERRORS.has(error) ? error : 'other';
  };

  const recordProvider = (ctx: KoaContextWithOIDC, threw: boolean) => {
    const named = (ctx.oidc as KoaContextWithOIDC['oidc'] | undefined)?.route;
    const route = named && PROVIDER_ROUTE_NAME.test(named) ? named : (PROVIDER_PATHS[ctx.path] ?? 'unknown');
    providerRoutes.set(ctx.req, route);
    if (route !== 'token') return;
    const grantType = (ctx.oidc as KoaContextWithOIDC['oidc'] | undefined)?.params?.['grant_type'];
    tokenRequests.inc({
      grant_type: typeof grantType === 'string' && GRANT_TYPES.has(grantType) ? grantType : 'other',
      outcome: tokenOutcome(ctx, threw),
    });
  };

  return {
    /** The exposition's content type. */
    contentType: registry.contentType,

    /** The metrics in Prometheus text format: this app's, then the process's. */
    async render(): Promise<string> {
      const [own, proc] = await Promise.all([registry.metrics(), processMetrics().metrics()]);
      return `${own.trimEnd()}\n\n${proc.trimEnd()}\n`;
    },

    /** Fastify's onResponse: every request, Fastify's by route pattern, the provider's by endpoint name. */
    observeRequest(request: FastifyRequest, reply: FastifyReply): void {
      const method = METHODS.has(request.method) ? request.method : 'other';
      const route = request.routeOptions.url ?? providerRoutes.get(request.raw) ?? 'unknown';
      requestDuration.observe({ method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    },

    /**
     * The outermost provider middleware: names the endpoint each request reached and counts token
     * requests by grant type and outcome, as answered (after every other middleware had its say).
     */
    providerMiddleware(): ProviderMiddleware {
      return async (ctx, next) => {
        try {
          await next();
        } catch (err) {
          recordProvider(ctx, true);
          throw err;
        }
        recordProvider(ctx, false);
      };
    },

    signIn(outcome: SignInOutcome): void {
      signIns.inc({ outcome });
    },

    /** A failed sign-in: refused as locked when the name was locked before; a lockout when this failure locked it. */
    signInFailed(wasLocked: boolean, nowLocked: boolean): void {
      signIns.inc({ outcome: wasLocked ? 'locked' : 'failure' });
      if (!wasLocked && nowLocked) lockouts.inc();
    },

    rateLimited: (limit: RateLimit): void => {
      rateLimited.inc({ limit });
    },

    /** An argon2id verification that began at `startedAt` (performance.now()) has ended. */
    passwordVerified(purpose: VerificationPurpose, startedAt: number): void {
      verifications.inc({ purpose });
      verificationDuration.observe({ purpose }, (performance.now() - startedAt) / 1000);
    },

    /** Stops timing statements (the app is closing; the pool may outlive it). */
    close(): void {
      closed = true;
      pool.off('acquire', onAcquire);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
