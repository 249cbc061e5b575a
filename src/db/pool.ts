import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** What a repository runs a statement on: the pool, or one connection (a transaction's) to join it. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface PoolOptions {
  connectionString: string;
  max?: number;
  /** Called for errors on idle clients (server restarts, network cuts): logged, never fatal. */
  onError?: (err: Error) => void;
}

export function createPool({ connectionString, max = 10, onError }: PoolOptions): Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    application_name: 'keyhold',
  });
  pool.on('error', (err) => onError?.(err));
  return pool;
}

/** Runs `fn` in a transaction on one connection; rolls back on any error. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
