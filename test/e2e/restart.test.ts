import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { createPool } from '../../src/db/pool.ts';
import { createClientsRepo } from '../../src/repos/clients.ts';
import { freePort } from '../helpers/app.ts';
import { Agent, loginForm } from '../helpers/browserless.ts';
import { basicAuth, createClient } from '../helpers/fixtures.ts';
import { startServer } from '../helpers/server-process.ts';

t.test('a restart on the same DATA_DIR keeps users, keys, sessions and tokens; SIGTERM drains and exits 0', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'keyhold-restart-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  // A short drain: the drain itself is test/e2e/shutdown.test.ts's subject.
  const env = { PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info', ADMIN_USERNAME: 'root', DATABASE_URL: '', SHUTDOWN_DRAIN_SECONDS: '1' };

  // First start: the administrator's password is generated and printed once.
  let server = await startServer(env);
  t.teardown(() => void server.child.kill('SIGKILL'));
  const generated = /password:\s+(\S+)/.exec(server.output())?.[1];
  t.ok(generated, 'a generated admin password is printed');

  // The test reaches the embedded cluster the server runs (shared, never stopped from here).
  const shared = await startEmbeddedPostgres(dataDir);
  const pool = createPool({ connectionString: shared.url });
  t.teardown(() => pool.end());
  const { client, secret } = await createClient(createClientsRepo(pool));

  const agent = new Agent();
  const verifier = randomBytes(32).toString('base64url');
  const authorize = (prompt?: string) => {
    const url = new URL(`${origin}/auth`);
    url.search = new URLSearchParams({
      client_id: client.id,
      response_type: 'code',
      redirect_uri: 'https://app.example.com/callback',
      scope: 'openid profile',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...(prompt ? { prompt } : {}),
    }).toString();
    return agent.follow(url.href, origin);
  };
  const redeem = async (callbackUrl: string) => {
    const code = new URL(callbackUrl).searchParams.get('code');
    const r = await fetch(`${origin}/token`, {
      method: 'POST',
      headers: { authorization: basicAuth(client.id, secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: code ?? '', redirect_uri: 'https://app.example.com/callback', code_verifier: verifier }),
    });
    return { status: r.status, body: await r.json() };
  };

  const signIn = await authorize();
  const { action, csrf } = loginForm(await signIn.response.text());
  const back = await agent.follow(new URL(action, origin).href, origin, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'root', password: generated!, csrf }).toString(),
  });
  const first = await redeem(back.url);
  t.equal(first.status, 200, 'the generated admin password signs in');
  const jwksBefore = await (await fetch(`${origin}/jwks`)).json();

  // An in-flight request (headers sent, body still coming) must complete after SIGTERM.
  const inFlight = new Promise<number>((resolve, reject) => {
    const req = request(`${origin}/healthz`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '2' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.write('{');
    setTimeout(() => {
      server.child.kill('SIGTERM');
      setTimeout(() => req.end('}'), 300);
    }, 200);
  });
  const stoppedAt = Date.now();
  t.equal(await inFlight, 404, 'the in-flight request was answered (POST /healthz is no route), not cut off');
  const exit = await server.exited;
  t.equal(exit.code, 0, 'exit code 0');
  t.ok(Date.now() - stoppedAt < 10_000, 'stopped within 10 s');
  t.notOk(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), 'the embedded Postgres stopped cleanly');
  t.match(server.output(), /shutting down/);
  t.notMatch(server.output().split('It is shown only this once')[1] ?? '', generated!, 'the password is never logged');

  // Second start on the same DATA_DIR.
  server = await startServer(env);
  t.notMatch(server.output(), /password:/, 'no new admin password: the admin survived');
  const jwksAfter = await (await fetch(`${origin}/jwks`)).json();
  t.same(jwksAfter.keys.map((k: { kid: string }) => k.kid), jwksBefore.keys.map((k: { kid: string }) => k.kid), 'same signing keys');

  const userinfo = await fetch(`${origin}/me`, { headers: { authorization: `Bearer ${first.body.access_token}` } });
  t.equal(userinfo.status, 200, 'an access token from before the restart still works');
  t.equal((await userinfo.json()).preferred_username, 'root');

  const silent = await authorize('none');
  t.match(silent.url, /^https:\/\/app\.example\.com\/callback\?code=/, 'the browser session survived: prompt=none signs in silently');
  const second = await redeem(silent.url);
  t.equal(second.status, 200);

  server.child.kill('SIGTERM');
  t.equal((await server.exited).code, 0);
});

t.test('after a crash (SIGKILL) nothing stored is lost, and the next start adopts and later stops Postgres', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'keyhold-crash-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const env = { PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info', ADMIN_PASSWORD: 'crash-test-password', DATABASE_URL: '', SHUTDOWN_DRAIN_SECONDS: '1' };
  let server = await startServer(env);
  const shared = await startEmbeddedPostgres(dataDir);
  const pool = createPool({ connectionString: shared.url });
  const { client } = await createClient(createClientsRepo(pool));
  await pool.end();

  server.child.kill('SIGKILL');
  await server.exited;
  t.ok(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), 'Postgres outlived the crashed process');

  server = await startServer(env);
  t.teardown(() => void server.child.kill('SIGKILL'));
  t.match(server.output(), /adopted after a crash|embedded Postgres started/);
  const again = await startEmbeddedPostgres(dataDir);
  const pool2 = createPool({ connectionString: again.url });
  const { rows } = await pool2.query('SELECT name FROM clients WHERE id = $1', [client.id]);
  await pool2.end();
  t.equal(rows.length, 1, 'the client stored before the crash is there');
  const discovery = await fetch(`http://localhost:${port}/.well-known/openid-configuration`);
  t.equal(discovery.status, 200);

  server.child.kill('SIGTERM');
  t.equal((await server.exited).code, 0);
  t.notOk(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), 'the adopted Postgres was stopped on shutdown');
});
