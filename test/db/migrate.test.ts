import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ChangedMigrationError, loadMigrations, migrate, MIGRATIONS_DIR } from '../../src/db/migrate.ts';
import { freePort, TEST_ENCRYPTION_KEY } from '../helpers/app.ts';
import { runCli } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { spawnServer } from '../helpers/server-process.ts';

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
  const dir = await mkdtemp(join(tmpdir(), 'keyhold-migrations-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, '0001_ok.sql'), 'CREATE TABLE a (id int);');
  await writeFile(join(dir, '0002_broken.sql'), 'CREATE TABLE b (id int); SELECT * FROM missing_table;');
  await t.rejects(migrate(db.pool, dir), /migration 0002_broken failed/);
  t.same(await tables(db.pool), ['a', 'schema_migrations'], 'the broken migration left nothing behind');
  const { rows } = await db.pool.query('SELECT name FROM schema_migrations');
  t.same(rows.map((r) => r.name), ['0001_ok']);
});

/** A copy of the migrations directory in a temporary directory, removed after the test. */
async function copyOfMigrations(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keyhold-migrations-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

t.test('each applied migration is recorded with the SHA-256 of its file', async (t) => {
  const db = await createTestDatabase(t, { empty: true });
  await migrate(db.pool);
  const { rows } = await db.pool.query<{ name: string; checksum: string }>('SELECT name, checksum FROM schema_migrations ORDER BY id');
  const files = await readdir(MIGRATIONS_DIR);
  t.equal(rows.length, files.filter((f) => f.endsWith('.sql')).length);
  for (const row of rows) t.equal(row.checksum, sha256(await readFile(join(MIGRATIONS_DIR, `${row.name}.sql`), 'utf8')), row.name);
});

t.test('an applied migration changed afterwards stops the run, naming it; the untouched files pass', async (t) => {
  const db = await createTestDatabase(t, { empty: true });
  const dir = await copyOfMigrations(t);
  t.ok((await migrate(db.pool, dir)).length > 0, 'applied from the copy');
  t.same(await migrate(db.pool, dir), [], 'an untouched run passes');

  const [second] = (await readdir(dir)).filter((f) => f.startsWith('0002_'));
  const original = await readFile(join(dir, second!), 'utf8');
  await writeFile(join(dir, second!), `${original}\n-- an edit after the fact\n`);
  // A pending migration must not be applied past the changed one.
  await writeFile(join(dir, '9999_later.sql'), 'CREATE TABLE later (id int);');
  const err = await migrate(db.pool, dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof ChangedMigrationError, 'refused');
  const message = (err as Error).message;
  t.equal(
    message,
    `migrations/${second!.replace(/\.sql$/, '')}.sql was changed after it was applied to this database ` +
      `(checksum ${sha256(original)} when applied, ${sha256(`${original}\n-- an edit after the fact\n`)} now): ` +
      'migrations are forward only; restore the file and add a new migration instead',
  );
  t.notMatch(message, /\n/, 'one line');
  const { rowCount } = await db.pool.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'later'");
  t.equal(rowCount, 0, 'nothing applied after the refusal');

  await writeFile(join(dir, second!), original);
  t.same(await migrate(db.pool, dir), ['9999_later'], 'with the file restored, the run goes on');
});

t.test('a database migrated before checksums were recorded: the column is added and filled from the files', async (t) => {
  const db = await createTestDatabase(t, { empty: true });
  await migrate(db.pool);
  // What the runner before checksums left behind: no checksum column.
  await db.pool.query('ALTER TABLE schema_migrations DROP COLUMN checksum');
  t.same(await migrate(db.pool), [], 'nothing to apply');
  const { rows } = await db.pool.query<{ name: string; checksum: string | null }>('SELECT name, checksum FROM schema_migrations ORDER BY id');
  t.ok(rows.length > 0);
  for (const row of rows) t.equal(row.checksum, sha256(await readFile(join(MIGRATIONS_DIR, `${row.name}.sql`), 'utf8')), `${row.name} backfilled`);

  // From then on they are verified.
  const dir = await copyOfMigrations(t);
  const first = `${rows[0]!.name}.sql`;
  await writeFile(join(dir, first), `${await readFile(join(dir, first), 'utf8')} `);
  await t.rejects(migrate(db.pool, dir), ChangedMigrationError);
});

t.test('the CLI migrate and the server refuse a database whose applied migration changed, with one line naming it', async (t) => {
  const db = await createTestDatabase(t);
  // The recorded checksum of 0002 no longer matches its file: as if the file had been edited after it was applied.
  const { rows } = await db.pool.query<{ name: string }>("UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE id = 2 RETURNING name");
  const name = rows[0]!.name;
  const expected = new RegExp(`migrations/${name}\\.sql was changed after it was applied to this database \\(checksum 0{64} when applied, [0-9a-f]{64} now\\): migrations are forward only; restore the file and add a new migration instead`);

  const cli = await runCli(db.url, ['migrate', '--json']);
  t.equal(cli.code, 1);
  t.equal(cli.stdout, '');
  t.match(cli.stderr, new RegExp(`^keyhold migrate: ${expected.source}\\n$`));

  const server = spawnServer({ DATABASE_URL: db.url, ENCRYPTION_KEYS: TEST_ENCRYPTION_KEY, PORT: String(await freePort()), LOG_LEVEL: 'info' });
  const exit = await server.exited;
  t.equal(exit.code, 1, 'the server does not start');
  t.match(server.output(), new RegExp(`keyhold: the server did not start: ${expected.source}\\n`));
  t.notMatch(server.output(), /Keyhold is ready/);
});
