import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { createPool } from '../../src/db/pool.ts';
import { runScript, src } from '../helpers/node-script.ts';

// Who stops the embedded Postgres is decided by DATA_DIR/postgres.owner (the pid of the process that
// started it), the same on Linux, macOS and anywhere else: nothing is read from /proc.

const postmasterOf = async (dataDir: string) => Number((await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('a second process that opens the cluster shares it and never stops it', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'keyhold-owner-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const first = await startEmbeddedPostgres(dataDir);
  t.teardown(() => first.stop());
  const postmaster = await postmasterOf(dataDir);
  t.same(JSON.parse(await readFile(join(dataDir, 'postgres.owner'), 'utf8')), { pid: process.pid, postmaster }, 'the starter is the owner');

  // The CLI beside the server: another real process opens the cluster, closes it and exits.
  const second = runScript(`
    import { startEmbeddedPostgres } from ${JSON.stringify(src('db/embedded.ts'))};
    const db = await startEmbeddedPostgres(${JSON.stringify(dataDir)});
    console.log(JSON.stringify({ url: db.url }));
    await db.stop();
  `);
  const { url } = (await second.firstJson) as { url: string };
  t.equal((await second.exited).code, 0, 'the second process exits cleanly');
  t.equal(url, first.url, 'it used the running server');

  await sleep(500);
  t.ok(alive(postmaster), "the first process's Postgres still runs");
  const pool = createPool({ connectionString: first.url, max: 1 });
  t.equal((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1, 'and answers');
  await pool.end();

  await first.stop();
  t.notOk(alive(postmaster), 'its owner stops it');
  t.notOk(existsSync(join(dataDir, 'postgres.owner')), 'and removes the owner file');
});

t.test('a Postgres whose owner died is adopted: the next opener stops it on its way out', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'keyhold-owner-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  // A Keyhold that crashes (SIGKILL): its Postgres keeps running, owned by a dead pid.
  const crashed = runScript(`
    import { startEmbeddedPostgres } from ${JSON.stringify(src('db/embedded.ts'))};
    await startEmbeddedPostgres(${JSON.stringify(dataDir)});
    console.log(JSON.stringify({ started: true }));
    setInterval(() => undefined, 1000);
  `);
  await crashed.firstJson;
  const postmaster = await postmasterOf(dataDir);
  crashed.child.kill('SIGKILL');
  await crashed.exited;
  t.teardown(() => void (alive(postmaster) && process.kill(postmaster, 'SIGKILL')));
  t.ok(alive(postmaster), 'the orphan runs on');

  const adopter = await startEmbeddedPostgres(dataDir);
  t.same(JSON.parse(await readFile(join(dataDir, 'postgres.owner'), 'utf8')), { pid: process.pid, postmaster }, 'the opener owns it now');
  const pool = createPool({ connectionString: adopter.url, max: 1 });
  t.equal((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1, 'and uses it');
  await pool.end();
  await adopter.stop();
  t.notOk(alive(postmaster), 'then stops it');
  t.notOk(existsSync(join(dataDir, 'postgres.owner')), 'and removes the owner file');
});
