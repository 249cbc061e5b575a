import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { freePort } from './app.ts';

export interface PrivatePostgres {
  /** The migrated `keyhold` database on this server. */
  url: string;
  /** Stops the server (a fast shutdown: every session is terminated, new connections are refused). */
  stop(): Promise<void>;
  /** Starts it again, on the same port, with the same data. */
  start(): Promise<void>;
}

/**
 * A Postgres server of the test's own, to stop and start at will (outages). It is always an embedded
 * Postgres (the npm-shipped binaries, as `npm start` runs), whichever server TEST_DATABASE_URL names:
 * the suite's shared server is never stopped, and one mechanism serves both CI runs. Its data directory
 * is a fresh temporary one (made reachable to the `postgres` user when running as root).
 */
export async function startPrivatePostgres(t: Test): Promise<PrivatePostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'keyhold-private-pg-'));
  const port = await freePort();
  let server: EmbeddedDatabase = await startEmbeddedPostgres(dir, () => undefined, { port });
  let running = true;
  t.teardown(async () => {
    if (running) await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const pool = createPool({ connectionString: server.url, max: 1 });
  await migrate(pool);
  await pool.end();
  return {
    url: server.url,
    async stop() {
      await server.stop();
      running = false;
    },
    async start() {
      server = await startEmbeddedPostgres(dir, () => undefined, { port });
      running = true;
    },
  };
}
