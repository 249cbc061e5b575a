import pg from 'pg';
import { markConnectFailure } from './unavailable.ts';

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

type ConnectCallback = ((err: Error) => void) | ((err: null, client: pg.Client) => void);

/**
 * A pg client whose failures to connect are marked as such (refused, timed out, authentication, the
 * database not accepting connections...), so that they count as the database being unavailable
 * whatever their code (db/unavailable.ts).
 */
class MarkedClient extends pg.Client {
  override connect(): Promise<pg.Client>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.Client> | void {
    if (!callback) return super.connect().catch((err: unknown) => Promise.reject(markConnectFailure(err)));
    super.connect(((err: Error | null, client: pg.Client) => (callback as (e: Error | null, c: pg.Client) => void)(err && markConnectFailure(err), client)) as ConnectCallback);
  }
}

export function createPool({ connectionString, max = 10, onError }: PoolOptions): Pool {
  const pool = new pg.Pool({
    Client: MarkedClient,
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
