import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { migrate } from './migrate.ts';
import { createPool, type Pool } from './pool.ts';

export interface Database {
  pool: Pool;
  /** The connection string behind the pool. */
  url: string;
  /** Closes the pool and, for the embedded server, stops Postgres cleanly. */
  close(): Promise<void>;
  /**
   * With the embedded server: calls `onGone` once if Postgres ends by itself (killed, crashed). A
   * Postgres server at DATABASE_URL is someone else's to supervise: never called.
   */
  watch(onGone: (detail: { pid: number }) => void): void;
}

/**
 * Connects to `DATABASE_URL`, or starts the embedded Postgres under `DATA_DIR` when it is unset, and
 * applies pending migrations.
 */
export async function openDatabase(config: Config, logger: Logger, { runMigrations = true } = {}): Promise<Database> {
  // Loaded only when needed: a container on DATABASE_URL ships without the Postgres binaries.
  const embedded = config.databaseUrl
    ? undefined
    : await (await import('./embedded.ts')).startEmbeddedPostgres(config.dataDir, (message) => logger.debug({ postgres: message }, 'embedded postgres'));
  if (embedded) logger.info({ dataDir: config.dataDir }, 'embedded Postgres started');
  const url = config.databaseUrl ?? embedded!.url;
  const pool = createPool({
    connectionString: url,
    onError: (err) => logger.warn({ err }, 'idle database connection failed'),
  });
  const close = async () => {
    await pool.end().catch(() => undefined);
    await embedded?.stop();
  };
  try {
    if (runMigrations) {
      const applied = await migrate(pool);
      if (applied.length) logger.info({ applied }, 'migrations applied');
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { pool, url, close, watch: (onGone) => embedded?.watch(onGone) };
}
