import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { loadMigrations, migrate } from '../../src/db/migrate.ts';
import { createTestDatabase } from '../helpers/db.ts';

const root = join(import.meta.dirname, '..', '..');
const node = join(root, 'node_modules', '.bin', 'node');

async function tables(pool: import('pg').Pool): Promise<string[]> {
  const { rows } = await pool.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return rows.map((r) => r.table_name);
}

t.test('migrations apply from an empty database, and a second run changes nothing', async (t) => {
  const db = await createTestDatabase(t, { empty: true });
  t.same(await tables(db.pool), []);
  const first = await migrate(db.pool);
  const all = (await loadMigrations()).map((m) => m.name);
  t.same(first, all, 'every migration applied');
  t.same(await tables(db.pool), ['audit_events', 'client_secrets', 'clients', 'keys', 'oidc_payloads', 'rate_limits', 'refresh_token_replays', 'schema_migrations', 'signin_failures', 'users']);
  t.same(await migrate(db.pool), [], 'nothing left to apply');
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM schema_migrations');
  t.equal(rows[0].n, all.length);
});

t.test('two processes migrating the same empty database at once apply each migration once', async (t) => {
  const db = await createTestDatabase(t, { empty: true });
  const run = () =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(node, [join(root, 'src', 'cli.ts'), 'migrate', '--json'], {
        env: { ...process.env, DATABASE_URL: db.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  const results = await Promise.all([run(), run()]);
  for (const r of results) t.equal(r.code, 0, `both processes succeed ${r.stderr}`);
  const { rows } = await db.pool.query('SELECT id, count(*)::int AS n FROM schema_migrations GROUP BY id');
  t.ok(rows.length > 0);
  t.ok(rows.every((r) => r.n === 1), 'each migration recorded exactly once');
});

t.test('a failing migration rolls back entirely and names itself', async (t) => {
  const db = await createTestDatabase(t, { empty: true });
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'keyhold-migrations-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, '0001_ok.sql'), 'CREATE TABLE a (id int);');
  await writeFile(join(dir, '0002_broken.sql'), 'CREATE TABLE b (id int); SELECT * FROM missing_table;');
  await t.rejects(migrate(db.pool, dir), /migration 0002_broken failed/);
  t.same(await tables(db.pool), ['a', 'schema_migrations'], 'the broken migration left nothing behind');
  const { rows } = await db.pool.query('SELECT name FROM schema_migrations');
  t.same(rows.map((r) => r.name), ['0001_ok']);
});
