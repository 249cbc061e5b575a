import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import type { Config } from './config.ts';
import { Keyring } from './crypto/keyring.ts';
import { listen } from './db/listener.ts';
import type { Pool } from './db/pool.ts';
import { sendProblem } from './errors.ts';
import { adminApi } from './http/admin-api/index.ts';
import { consoleRoutes } from './http/console/routes.ts';
import { trackConnections, type Drain } from './http/drain.ts';
import { healthRoutes } from './http/health.ts';
import { interactionRoutes } from './http/interaction/routes.ts';
import { pinUrlsToIssuer } from './http/issuer-host.ts';
import { metricsRoutes } from './http/metrics-routes.ts';
import { mountProvider } from './http/provider-mount.ts';
import { installProviderSecurityHeaders, registerSecurityHeaders } from './http/security-headers.ts';
import type { Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { createClientCache } from './oidc/client-cache.ts';
import { startLiveKeys, type LiveKeys } from './oidc/live-keys.ts';
import { createSecretVerifier } from './oidc/client-secrets.ts';
import { installOutageAnswers } from './oidc/outage.ts';
import { createProvider } from './oidc/provider.ts';
import { createRefreshGrace } from './oidc/refresh-grace.ts';
import { addressOf, createTokenThrottle, rememberAddress } from './oidc/throttle.ts';
import { auditKeyEvents, createAuditTrail } from './audit.ts';
import { auditProviderEvents } from './oidc/audit-events.ts';
import { CLIENT_CHANGES_CHANNEL, createClientsRepo } from './repos/clients.ts';
import { createKeysRepo, KEYS_CHANNEL, type KeyEvents } from './repos/keys.ts';
import { createProviderModelsRepo } from './repos/provider-models.ts';
import { createUsersRepo } from './repos/users.ts';
import { createLockouts } from './security/lockouts.ts';
import { createRateLimiter, RATE_LIMIT_CHANNEL } from './security/rate-limits.ts';
import { createClientsService } from './services/clients.ts';
import { createUsersService } from './services/users.ts';
import { loadBrand } from './pages/brand.ts';
import { createPages } from './pages/views.ts';
import { registerPages } from './http/pages.ts';

export interface AppOptions {
  config: Config;
  pool: Pool;
  /** The connection string behind `pool`, for the LISTEN connection. */
  databaseUrl: string;
  logger: Logger;
  /** Seals signing and cookie keys at rest (see encryption-keys.ts); by default one of `config.encryptionKeys`. */
  keyring?: Keyring;
  /** How often expired provider rows are swept, in ms. */
  sweepIntervalMs?: number;
  /** How often the signing keys are read again without a notification (and KEY_ROTATION_DAYS checked), in ms. */
  keyCheckIntervalMs?: number;
  /** Told of scheduled key rotations inside their transaction; by default they go to the audit trail. */
  keyEvents?: KeyEvents;
}

export interface Keyhold {
  app: FastifyInstance;
  provider: Provider;
  /** The HTTP server's connections, for a shutdown that fails no accepted request (server.ts). */
  drain: Drain;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Expired rows deleted per statement, the pause between statements, and the most one sweep removes. */
const SWEEP_BATCH = 500;
const SWEEP_PAUSE_MS = 50;
const SWEEP_MAX_PER_RUN = 50_000;

/** The composition root: repositories, provider and routes, all wired here. */
export async function buildApp(options: AppOptions): Promise<Keyhold> {
  const { config, pool, logger } = options;
  let clientCache: ReturnType<typeof createClientCache> | undefined;
  const users = createUsersRepo(pool);
  // Changes made through this instance (the admin API) drop its cached copy as soon as they commit.
  const clients = createClientsRepo(pool, { onChange: (clientId) => clientCache?.invalidate(clientId) });
  const models = createProviderModelsRepo(pool);
  // Admin changes are recorded in their own transactions (services); the rest in batches off the request path.
  const audit = createAuditTrail(pool, { logger, retentionDays: config.audit.retentionDays });
  const keysRepo = createKeysRepo(
    pool,
    options.keyring ?? new Keyring(config.encryptionKeys),
    options.keyEvents ?? auditKeyEvents(audit, { kind: 'system' }),
  );
  const keys = await keysRepo.ensure();
  let liveKeys: LiveKeys | undefined;
  const metrics = createMetrics({ pool });

  // Rate limits and lockouts are counted in Postgres, shared by every instance; an instance that counts
  // a limit reached announces it, so the others refuse ahead of counting too (security/rate-limits.ts).
  const limiter = createRateLimiter(pool);
  const lockouts = createLockouts(pool, config.lockout);

  // Every instance keeps the clients it serves until a change to one is announced on its channel;
  // while the LISTEN connection is down, it reads every client through (see client-cache.ts).
  const listener = listen(
    options.databaseUrl,
    {
      [CLIENT_CHANGES_CHANNEL]: (clientId) => clientCache?.invalidate(clientId),
      [RATE_LIMIT_CHANNEL]: (payload) => limiter.heard(payload),
      [KEYS_CHANNEL]: () => liveKeys?.heard(),
    },
    {
      onError: (err) => logger.warn({ err }, 'the LISTEN connection (client changes, rate limits) was lost'),
      onUp: () => {
        clientCache?.clear();
        liveKeys?.heard();
      },
      onDown: () => clientCache?.clear(),
    },
  );
  clientCache = createClientCache({
    clients,
    isLive: () => listener.live,
    placeholderSecret: randomBytes(32).toString('base64url'),
  });
  const secrets = createSecretVerifier({ cache: clientCache, clients, metrics });

  const refreshGrace = config.refreshTokenReuseGrace > 0 ? createRefreshGrace(pool, config.refreshTokenReuseGrace) : undefined;

  // The end users' pages, in the configured brand (a logo file that cannot be used stops Keyhold here).
  const pages = createPages(loadBrand(config.brand), config.issuer);
  const provider = createProvider({
    issuer: config.issuer,
    pages,
    keys,
    models,
    clients: clientCache,
    users,
    secrets,
    refreshTokenLifetime: config.refreshTokenLifetime,
    throttle: createTokenThrottle({
      limiter,
      perMinute: config.rateLimits.tokenFailures,
      onLimited: metrics.rateLimited,
      onClientAuthFailure: ({ clientId, address, endpoint }) =>
        audit.later({ type: 'client.authentication_failed', actor: { kind: 'anonymous' }, target: { kind: 'client', id: clientId }, clientId, address, outcome: 'failure', details: { endpoint } }),
    }),
    metricsMiddleware: metrics.providerMiddleware(),
    ...(refreshGrace ? { refreshGrace } : {}),
    trustProxy: config.trustProxy,
    logger,
  });
  // Every URL Keyhold publishes comes from ISSUER, whatever Host or X-Forwarded-Host a request names.
  pinUrlsToIssuer(provider, config.issuer);
  installProviderSecurityHeaders(provider, config.issuer);
  // Signing keys rotate while Keyhold runs: published, signing and retired as they stand (oidc/live-keys.ts).
  liveKeys = startLiveKeys({
    provider,
    repo: keysRepo,
    initial: keys,
    activationDelay: config.keyActivationDelay,
    rotationDays: config.keyRotationDays,
    checkIntervalMs: options.keyCheckIntervalMs ?? 60_000,
    logger,
  });

  auditProviderEvents(provider, audit, { tokenEvents: config.audit.tokenEvents, addressOf });

  // A database outage: 503 with Retry-After, never a 500 (installed last, so inside the headers middleware).
  installOutageAnswers(provider, logger, pages);

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One proxy hop is trusted: the client's address is the one that proxy saw (the last X-Forwarded-For
    // entry), not whatever the client wrote into the header itself.
    trustProxy: config.trustProxy ? (_address: string, hop: number) => hop < 1 : false,
    bodyLimit: 1024 * 1024,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Not a 503 for every request once closing began: the drain (http/drain.ts) closes connections
    // between requests, and what was accepted is served.
    return503OnClosing: false,
    // A path Fastify cannot decode (`%zz`) or a parameter over its length limit: problem+json, like every other error.
    frameworkErrors: sendProblem,
  });

  const drain = trackConnections(app.server);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    rememberAddress(request.raw, request.ip);
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request, reply);
  });
  app.setErrorHandler((err, request, reply) => sendProblem(err, request, reply));
  registerSecurityHeaders(app, config.issuer);

  const mountPath = new URL(config.issuer).pathname.replace(/\/$/, '');
  mountProvider(app, provider, mountPath);
  await app.register(healthRoutes, { pool, isDraining: () => drain.draining });
  await app.register(metricsRoutes, { metrics, allow: config.metricsAllow });
  await app.register(interactionRoutes, {
    provider,
    users,
    csrfKey: keys.cookie[0]!,
    lockouts,
    limiter,
    signinPerMinute: config.rateLimits.signin,
    audit,
    metrics,
    pages,
  });
  await app.register(consoleRoutes, { issuer: config.issuer });
  registerPages(app, { pages, issuer: config.issuer });
  await app.register(adminApi, {
    prefix: '/api/v1',
    provider,
    clientCache,
    usersRepo: users,
    clients: createClientsService({ clients, models, audit }),
    users: createUsersService({ users, models, lockouts, audit }),
    audit,
  });

  // Expired codes, tokens, sessions and interactions are swept in small batches, off the request path.
  let sweeping = false;
  const sweep = setInterval(async () => {
    // A sweep that outlasts the interval (a large backlog) is not run twice at once.
    if (sweeping) return;
    sweeping = true;
    try {
      // Small batches with a pause between them: a backlog drains at a few thousand rows a second
      // without taking Postgres from the requests being served.
      let removed = 0;
      for (let batch = await models.deleteExpired(SWEEP_BATCH); batch > 0 && removed < SWEEP_MAX_PER_RUN; batch = await models.deleteExpired(SWEEP_BATCH)) {
        removed += batch;
        await sleep(SWEEP_PAUSE_MS);
      }
      if (removed) logger.debug({ removed }, 'expired provider rows removed');
      await limiter.sweep();
      await lockouts.sweep();
      await refreshGrace?.sweep();
      await audit.sweep();
    } catch (err) {
      logger.warn({ err }, 'sweeping expired provider rows failed');
    } finally {
      sweeping = false;
    }
  }, options.sweepIntervalMs ?? 60_000);
  sweep.unref();

  app.addHook('onClose', async () => {
    clearInterval(sweep);
    metrics.close();
    await liveKeys?.close();
    await listener.close();
    await audit.close();
  });

  return { app, provider, drain };
}
