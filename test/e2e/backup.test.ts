import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { createPool } from '../../src/db/pool.ts';
import { createClientsRepo } from '../../src/repos/clients.ts';
import { createUsersRepo } from '../../src/repos/users.ts';
import { freePort } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, APP_REDIRECT, authorize, decodeJwt, post, random, signInForCode, userinfo } from '../helpers/flow.ts';
import { fetchJwks, signedBy } from '../helpers/jwt.ts';
import { startProxy } from '../helpers/proxy.ts';
import { spawnServer, startServer, type ServerProcess } from '../helpers/server-process.ts';

/**
 * Backing up the embedded database as the README says: stop Keyhold, copy DATA_DIR whole (the Postgres
 * cluster, its credentials and encryption.key), start a new Keyhold on the copy. Everything carries over:
 * clients and their secrets, users, browser sessions, live access and refresh tokens, and the signing
 * keys, so ID tokens issued before still verify. A copy without encryption.key does not start, and says
 * why; putting the key file back is enough.
 *
 * The public URL (ISSUER) stays the same across the restore, as it would behind a load balancer: a
 * proxy on loopback is that URL, in front of the original instance and then of the restored one.
 */

const run = promisify(execFile);
const ADMIN_PASSWORD = 'backup-test-admin-password';

async function stop(t: Test, server: ServerProcess, dataDir: string) {
  server.child.kill('SIGTERM');
  t.equal((await server.exited).code, 0, 'Keyhold stopped with exit code 0');
  t.notOk(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), 'and its embedded Postgres stopped cleanly');
}

t.test('a copy of the stopped DATA_DIR restores clients, users, sessions, tokens and signing keys', async (t) => {
  // The temporary directory holds the data directories; the postgres user (when running as root) must
  // be able to traverse it.
  const base = await mkdtemp(join(tmpdir(), 'keyhold-backup-'));
  await chmod(base, 0o755);
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const original = join(base, 'original');
  const restored = join(base, 'restored');
  const keyless = join(base, 'keyless');

  const proxy = await startProxy(t);
  const env = (dataDir: string, port: number) => ({
    PORT: String(port),
    DATA_DIR: dataDir,
    ISSUER: proxy.origin,
    TRUST_PROXY: 'true',
    LOG_LEVEL: 'info',
    ADMIN_PASSWORD,
    DATABASE_URL: '',
    ENCRYPTION_KEYS: '',
  });
  const servers: ServerProcess[] = [];
  t.teardown(() => {
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  });
  const serve = async (dataDir: string) => {
    const port = await freePort();
    const server = await startServer(env(dataDir, port));
    servers.push(server);
    proxy.upstreams = [`http://127.0.0.1:${port}`];
    return { server, port };
  };

  // The original: `npm start` on an empty DATA_DIR.
  const first = await serve(original);
  let server = first.server;
  t.ok(existsSync(join(original, 'encryption.key')), 'the first start generated DATA_DIR/encryption.key');
  t.equal((await stat(join(original, 'encryption.key'))).mode & 0o777, 0o600, 'readable by its owner only');
  const originalKey = await readFile(join(original, 'encryption.key'), 'utf8');

  // A client with a secret and a user, written to the cluster the server runs (shared, not stopped from here).
  const shared = await startEmbeddedPostgres(original);
  const pool = createPool({ connectionString: shared.url });
  const { client, secret } = await createClient(createClientsRepo(pool), { name: 'Backed-up app', allowRefreshToken: true });
  const creds = await createUser(createUsersRepo(pool));
  await pool.end();

  // The user signs in; the app holds an ID token, an access token and a refresh token.
  const browser = new Agent();
  const signedIn = await signInForCode(browser, proxy.origin, client.id, creds, 'openid profile email offline_access');
  const issued = await post(
    `${proxy.origin}/token`,
    { grant_type: 'authorization_code', code: signedIn.code, redirect_uri: APP_REDIRECT, code_verifier: signedIn.verifier },
    { clientId: client.id, secret },
  );
  t.equal(issued.status, 200, 'tokens issued by the original');
  const idToken = String(issued.body.id_token);
  const accessToken = String(issued.body.access_token);
  t.type(issued.body.refresh_token, 'string', 'a refresh token');
  const refreshToken = String(issued.body.refresh_token);
  const jwksBefore = await fetchJwks(proxy.origin);
  t.ok(signedBy(idToken, jwksBefore), 'the ID token verifies against the original JWKS');

  // Keyhold stopped (and its Postgres with it): the files are consistent. Copied whole, modes and owners kept.
  await stop(t, server, original);
  await run('cp', ['-a', original, restored]);
  await run('cp', ['-a', original, keyless]);
  await rm(join(keyless, 'encryption.key'));

  await t.test('a new Keyhold on the copy, on another port, behind the same public URL', async (t) => {
    const second = await serve(restored);
    server = second.server;
    t.not(second.port, first.port, 'a new instance, on another port');

    const jwks = await fetchJwks(proxy.origin);
    t.same(jwks.keys.map((k) => k.kid).sort(), jwksBefore.keys.map((k) => k.kid).sort(), 'the same signing keys, opened with the copied encryption.key');
    t.ok(signedBy(idToken, jwks), 'the ID token issued before the backup verifies against the new JWKS');

    const info = await userinfo(proxy.origin, accessToken);
    t.equal(info.status, 200, 'the live access token works at userinfo');
    t.match(info.body, { sub: decodeJwt(idToken).sub, email: `${creds.username}@example.com` });

    const introspected = await post(`${proxy.origin}/token/introspection`, { token: accessToken }, { clientId: client.id, secret });
    t.equal(introspected.status, 200, 'the client and its secret authenticate');
    t.match(introspected.body, { active: true, client_id: client.id, sub: decodeJwt(idToken).sub }, 'and the access token is active');

    const refreshed = await post(`${proxy.origin}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { clientId: client.id, secret });
    t.equal(refreshed.status, 200, 'the refresh token refreshes');
    t.ok(signedBy(String(refreshed.body.id_token), jwksBefore), 'the new ID token is signed with a key published before the backup');
    t.equal((await userinfo(proxy.origin, String(refreshed.body.access_token))).status, 200, 'its access token works');

    const silent = await authorize(browser, proxy.origin, { client_id: client.id, redirect_uri: APP_REDIRECT, response_type: 'code', scope: 'openid', state: random(), prompt: 'none' });
    t.ok(silent.params.get('code'), 'the browser session survived: prompt=none signs in silently');

    const again = await signInForCode(new Agent(), proxy.origin, client.id, creds);
    t.ok(again.code, 'the user signs in with their password in a new browser');
    const exchanged = await post(
      `${proxy.origin}/token`,
      { grant_type: 'authorization_code', code: again.code, redirect_uri: APP_REDIRECT, code_verifier: again.verifier },
      { clientId: client.id, secret },
    );
    t.equal(exchanged.status, 200, 'the code is exchanged with the client secret');

    await stop(t, server, restored);
  });

  await t.test('a copy without encryption.key does not start, and says why; the key file put back, it does', async (t) => {
    const port = await freePort();
    const failed = spawnServer(env(keyless, port));
    servers.push(failed);
    const exit = await failed.exited;
    const output = failed.output();
    t.equal(exit.code, 1, 'the server exits with code 1');
    t.notMatch(output, /Keyhold is ready/, 'it never listened');
    t.match(output, /the signing and cookie keys in the database cannot be opened: sealed under key [A-Za-z0-9_-]+, which ENCRYPTION_KEYS does not hold/, 'a readable message naming the key the rows were sealed under');
    t.match(output, /Put back the \S*encryption\.key these keys were sealed with/, 'and says which file to put back');
    t.notOk(existsSync(join(keyless, 'postgres', 'postmaster.pid')), 'the embedded Postgres it started was stopped');
    const generated = await readFile(join(keyless, 'encryption.key'), 'utf8');
    t.not(generated, originalKey, 'it had generated a new key, which opens nothing');
    for (const key of [originalKey.trim(), generated.trim()]) t.notOk(output.includes(key), 'no key in the output');

    await copyFile(join(original, 'encryption.key'), join(keyless, 'encryption.key'));
    server = (await serve(keyless)).server;
    t.ok(signedBy(idToken, await fetchJwks(proxy.origin)), 'with the backed-up encryption.key in place it starts, with the same signing keys');
    t.equal((await userinfo(proxy.origin, accessToken)).status, 200, 'and the same tokens');
    await stop(t, server, keyless);
  });
});
