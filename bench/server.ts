/**
 * One server process of the benchmark, started by bench/run.ts with its configuration as JSON in
 * argv[2]: Keyhold (buildApp on the embedded Postgres) or the bare oidc-provider baseline. Besides
 * HTTP it answers over IPC only: `mint` issues codes and tokens through the provider's model API (a
 * bench-only door that never exists in src/), `stop` closes the server and exits, which also lets
 * `--cpu-prof` write its profile.
 */
import { createServer } from 'node:http';
import type Provider from 'oidc-provider';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createPool } from '../src/db/pool.ts';
import { createLogger } from '../src/logger.ts';
import { createBareProvider } from './lib/bare.ts';
import { mint } from './lib/mint.ts';
import type { FromServer, ServerConfig, ToServer } from './lib/protocol.ts';

const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;
const issuer = `http://127.0.0.1:${config.port}`;
const reply = (message: FromServer) => process.send!(message);

// Round trips to Postgres are what a Keyhold request mostly waits on: count every query any pg client
// of this process sends, so the report can show queries per request.
let queries = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  queries++;
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

async function start(): Promise<{ provider: Provider; close: () => Promise<void> }> {
  if (config.engine === 'bare') {
    const provider = createBareProvider(issuer, config.clients);
    const server = createServer(provider.callback());
    // As with Fastify in Keyhold, keep-alive connections outlive the load generator's idle gaps.
    server.keepAliveTimeout = 72_000;
    await new Promise<void>((resolve) => server.listen(config.port, '127.0.0.1', resolve));
    return { provider, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }
  const pool = createPool({ connectionString: config.databaseUrl });
  const appConfig = loadConfig({
    PORT: String(config.port),
    ISSUER: issuer,
    DATABASE_URL: config.databaseUrl,
    LOG_LEVEL: 'silent',
    ENCRYPTION_KEYS: config.encryptionKey,
    // The load generator is one address, where production load comes from many: the limits stay on
    // (their counting is part of what is measured) but high enough never to refuse it.
    RATE_LIMIT_SIGNIN_PER_MINUTE: '100000',
    RATE_LIMIT_TOKEN_FAILURES_PER_MINUTE: '100000',
  });
  const { app, provider } = await buildApp({
    config: appConfig,
    pool,
    databaseUrl: config.databaseUrl,
    logger: createLogger('silent'),
    ...(config.sweepIntervalMs === undefined ? {} : { sweepIntervalMs: config.sweepIntervalMs }),
  });
  await app.listen({ port: config.port, host: '127.0.0.1' });
  return {
    provider,
    // The pool is left to the process exit: sign-ins abandoned by the load generator may still be
    // queued for argon2id and would fail loudly on an ended pool.
    close: () => app.close(),
  };
}

try {
  const { provider, close } = await start();
  process.on('message', (message: ToServer) => {
    if (message.type === 'stop') {
      close().finally(() => process.exit(0));
      return;
    }
    if (message.type === 'queries') {
      reply({ type: 'queries', id: message.id, count: queries });
      return;
    }
    const began = performance.now();
    mint(provider, message.request).then(
      (values) => reply({ type: 'minted', id: message.id, values, ms: performance.now() - began }),
      (err: unknown) => reply({ type: 'failed', id: message.id, message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  // The orchestrator going away (killed, crashed) must not leave a server behind.
  process.on('disconnect', () => process.exit(0));
  reply({ type: 'ready', pid: process.pid });
} catch (err) {
  // Keyhold may not start while src/ is mid-change: say why, then go (its pool would keep the process up).
  const message: FromServer = { type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  process.send!(message, () => process.exit(1));
}
