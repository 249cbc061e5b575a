import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Pool } from './pool.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** An arbitrary constant shared by every Keyhold process: the advisory lock that serialises migrations. */
const MIGRATION_LOCK = 0x6b6579686f6c64n; // "keyhold"

export interface Migration {
  id: number;
  name: string;
  sql: string;
  /** SHA-256 of the file's text, hex: recorded when applied, compared at every start. */
  checksum: string;
}

/** An applied migration whose file no longer has the checksum recorded when it was applied. */
export class ChangedMigrationError extends Error {
  readonly migration: string;
  constructor(migration: string, recorded: string, current: string) {
    super(
      `migrations/${migration}.sql was changed after it was applied to this database (checksum ${recorded} when applied, ${current} now): ` +
        'migrations are forward only; restore the file and add a new migration instead',
    );
    this.name = 'ChangedMigrationError';
    this.migration = migration;
  }
}

const checksumOf = (sql: string) => createHash('sha256').update(sql, 'utf8').digest('hex');

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const sql = await readFile(new URL(file, `file://${dir.endsWith('/') ? dir : `${dir}/`}`), 'utf8');
      return { id: Number(file.slice(0, 4)), name: file.replace(/\.sql$/, ''), sql, checksum: checksumOf(sql) };
    }),
  );
}

/**
 * Creates schema_migrations if needed and checks the migrations already applied against their files:
 * an applied migration whose file changed throws ChangedMigrationError, before anything is applied.
 *
 * Databases migrated before checksums were recorded have the column added here and filled from the
 * files as they are now: those migrations cannot be verified for the time before, only from this
 * run on.
 */
async function verifyApplied(pool: Pool, migrations: Migration[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    await client.query('ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text');
    const { rows } = await client.query<{ id: number; name: string; checksum: string | null }>('SELECT id, name, checksum FROM schema_migrations ORDER BY id');
    const files = new Map(migrations.map((m) => [m.id, m]));
    for (const row of rows) {
      const file = files.get(row.id);
      // A migration recorded without a file here (a newer Keyhold ran on this database) is not ours to judge.
      if (!file) continue;
      if (row.checksum === null) await client.query('UPDATE schema_migrations SET checksum = $2 WHERE id = $1', [row.id, file.checksum]);
      else if (row.checksum !== file.checksum) throw new ChangedMigrationError(row.name, row.checksum, file.checksum);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Verifies the applied migrations (verifyApplied), then applies every pending one, each in its own
 * transaction that holds a transaction-scoped advisory lock: two processes starting at the same moment
 * apply each migration exactly once, the second waiting for the first and then finding it recorded.
 * Returns the names it applied.
 */
export async function migrate(pool: Pool, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await loadMigrations(dir);
  await verifyApplied(pool, migrations);
  const applied: string[] = [];
  for (const migration of migrations) {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
      const { rowCount } = await client.query('SELECT 1 FROM schema_migrations WHERE id = $1', [migration.id]);
      if (rowCount === 0) {
        await client.query('INSERT INTO schema_migrations (id, name, checksum) VALUES ($1, $2, $3)', [migration.id, migration.name, migration.checksum]);
        await client.query(migration.sql);
        applied.push(migration.name);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw new Error(`migration ${migration.name} failed: ${(err as Error).message}`, { cause: err });
    } finally {
      client.release();
    }
  }
  return applied;
}
