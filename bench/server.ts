/**
 * One server process for the benchmarks: `keyhold` (optionally without the secret cache) or `bare`
 * (a Fastify hello-world, the machine's baseline). Prints `READY <port>` when listening.
 */
import Fastify from 'fastify';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createPool } from '../src/db/pool.ts';
import { createLogger } from '../src/logger.ts';

const [kind = 'keyhold', port = '0', databaseUrl = '', cache = 'on'] = process.argv.slice(2);

if (kind === 'bare') {
  const app = Fastify();
  app.get('/hello', async () => ({ hello: 'world' }));
  await app.listen({ port: Number(port), host: '127.0.0.1' });
} else {
  const config = loadConfig({ PORT: port, ISSUER: `http://127.0.0.1:${port}`, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' });
  const pool = createPool({ connectionString: databaseUrl, max: 10 });
  const { app } = await buildApp({
    config,
    pool,
    databaseUrl,
    logger: createLogger('silent'),
    ...(cache === 'off' ? { secretCacheTtlMs: 0 } : {}),
  });
  await app.listen({ port: Number(port), host: '127.0.0.1' });
}
process.stdout.write(`READY ${port}\n`);
process.on('SIGTERM', () => process.exit(0));
