import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { createPool } from '../../src/db/pool.ts';
import { createClientsRepo } from '../../src/repos/clients.ts';
import { freePort } from '../helpers/app.ts';
import { createClient } from '../helpers/fixtures.ts';
import { post } from '../helpers/flow.ts';
import { startServer } from '../helpers/server-process.ts';

t.test('when the embedded Postgres dies, Keyhold says so and exits 1; started again, it has everything', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'keyhold-pg-death-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const env = { PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info', ADMIN_PASSWORD: 'embedded-death-password', DATABASE_URL: '' };

  let server = await startServer(env);
  t.teardown(() => void server.child.kill('SIGKILL'));
  // A client stored through the cluster the server runs (shared, never stopped from here).
  const shared = await startEmbeddedPostgres(dataDir);
  const pool = createPool({ connectionString: shared.url });
  const { client, secret } = await createClient(createClientsRepo(pool), { type: 'client-credentials', name: 'Job', redirectUris: [], postLogoutRedirectUris: [] });
  await pool.end();
  const before = await post(`${origin}/token`, { grant_type: 'client_credentials' }, { clientId: client.id, secret });
  t.equal(before.status, 200);

  const postmaster = Number((await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  t.ok(postmaster > 0, 'the postmaster is running');
  process.kill(postmaster, 'SIGKILL');

  // Bounded: a Keyhold that missed the death would keep running without its database.
  const exit = await Promise.race([server.exited, sleep(30_000, { code: 'still running after 30 s', signal: null }, { ref: false })]);
  t.equal(exit.code, 1, 'Keyhold exits 1, for its supervisor to restart it');
  t.equal(exit.signal, null, 'on its own, not killed');
  const fatal = server.output().split('\n').find((line) => line.includes('the embedded Postgres stopped unexpectedly'));
  t.ok(fatal, 'with a line that says why');
  t.match(JSON.parse(fatal!), { level: 60, pid: postmaster, dataDir });

  // The supervisor starts it again: Postgres recovers its cluster, nothing stored is lost.
  server = await startServer(env);
  const after = await post(`${origin}/token`, { grant_type: 'client_credentials' }, { clientId: client.id, secret });
  t.equal(after.status, 200, 'the client stored before works after the restart');

  server.child.kill('SIGTERM');
  t.equal((await server.exited).code, 0, 'and stops cleanly');
});
