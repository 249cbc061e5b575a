import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Test } from 'tap';
import { createPool, type Pool } from '../../src/db/pool.ts';
import { TEMPLATE_DATABASE, withDatabase } from './db-url.ts';

export function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the suite with `npm test`');
  return url;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  url: string;
  pool: Pool;
}

/**
 * A database of its own for one test: cloned from the migrated template (or empty), dropped in
 * teardown.
 */
export async function createTestDatabase(t: Test, { empty = false } = {}): Promise<TestDatabase> {
  const name = `keyhold_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}${empty ? '' : ` TEMPLATE ${TEMPLATE_DATABASE}`}`));
  const url = withDatabase(serverUrl(), name);
  const pool = createPool({ connectionString: url, max: 5 });
  t.teardown(async () => {
    await pool.end();
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });
  return { url, pool };
}

/**
 * Makes the database refuse to delete the rows of `table` matching `when` (a condition on OLD), as a
 * trigger enforcing a rule would: for tests that a statement failing in a transaction takes the rest of
 * the transaction with it. Returns what lifts the refusal.
 */
export async function refuseDeletes(pool: Pool, table: string, when: string): Promise<() => Promise<void>> {
  const name = `refuse_delete_${randomBytes(4).toString('hex')}`;
  await pool.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'this row may not be deleted'; END $$`);
  await pool.query(`CREATE TRIGGER ${name} BEFORE DELETE ON ${table} FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION ${name}()`);
  return async () => {
    await pool.query(`DROP TRIGGER ${name} ON ${table}`);
    await pool.query(`DROP FUNCTION ${name}()`);
  };
}
