import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startTestApp } from '../helpers/app.ts';
import { createClient } from '../helpers/fixtures.ts';
import { post } from '../helpers/flow.ts';

/** Guessing at the token endpoint: per-client and per-address limits, shared by every instance. */

const ccClient = { type: 'client-credentials' as const, name: 'Batch job', redirectUris: [], postLogoutRedirectUris: [] };

/** A client_credentials request with client_secret_basic, as if from `address` (behind a trusted proxy). */
const clientCredentialsFrom = (issuer: string, clientId: string, secret: string, address: string) =>
  post(`${issuer}/token`, { grant_type: 'client_credentials' }, { clientId, secret }, { 'x-forwarded-for': address });

t.test('failed client authentications slow down, then answer 429, on every instance at once', async (t) => {
  const env = { RATE_LIMIT_TOKEN_FAILURES_PER_MINUTE: '6', TRUST_PROXY: 'true' };
  const a = await startTestApp(t, { env });
  const b = await startTestApp(t, { env, db: a.db });
  const { client, secret } = await createClient(a.clients, ccClient);
  // Every guess from another address: the per-client limit holds however many addresses guess.
  const wrong = (kh: typeof a, i: number) => clientCredentialsFrom(kh.issuer, client.id, `khs_wrong${i}`, `198.51.100.${i + 1}`);

  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const started = performance.now();
    const r = await wrong(i % 2 === 0 ? a : b, i);
    times.push(performance.now() - started);
    t.equal(r.status, 401, `failure ${i + 1} (instance ${i % 2 === 0 ? 'a' : 'b'}): invalid_client`);
    t.equal(r.body.error, 'invalid_client');
  }
  t.ok(times[5]! >= 350, `past half the limit, answers slow down (${times.map((ms) => ms.toFixed(0)).join(', ')} ms)`);
  t.ok(times[0]! < 300, 'the first failures are not delayed');

  const seventh = await wrong(b, 7);
  t.equal(seventh.status, 429, 'the seventh failure, counted across both instances, answers 429');
  t.equal(seventh.body.error, 'temporarily_unavailable');
  const retryAfter = Number(seventh.headers.get('retry-after'));
  t.ok(retryAfter >= 1 && retryAfter <= 60, `with Retry-After: ${retryAfter}`);

  // The other instance heard of it: the right secret is refused before it is looked at.
  await sleep(200);
  const right = await clientCredentialsFrom(a.issuer, client.id, secret, '198.51.100.100');
  t.equal(right.status, 429, 'then even the right secret waits, on the other instance too');
  t.ok(Number(right.headers.get('retry-after')) >= 1);
  t.notOk(JSON.stringify(right.body).includes(secret), 'no secret in the answer');

  const other = await createClient(a.clients, { ...ccClient, name: 'Another job' });
  const unaffected = await clientCredentialsFrom(b.issuer, other.client.id, other.secret, '198.51.100.1');
  t.equal(unaffected.status, 200, 'another client, even from an address that guessed, is not held back');

  const { rows } = await a.db.pool.query<{ hits: number }>('SELECT hits FROM rate_limits WHERE bucket = $1', [`token:client:${client.id}`]);
  t.equal(rows[0]?.hits, 7, 'one shared counter for the client, counted by both instances');
  t.notOk(a.logs.text.includes(secret) || b.logs.text.includes(secret), 'no secret in the logs');
});

t.test('failed token requests per address answer 429 beyond the limit; successes are not counted', async (t) => {
  const kh = await startTestApp(t, { env: { RATE_LIMIT_TOKEN_FAILURES_PER_MINUTE: '3', TRUST_PROXY: 'true' } });
  const { client, secret } = await createClient(kh.clients, { allowRefreshToken: true });
  const auth = { clientId: client.id, secret };
  const from = (address: string) => ({ 'x-forwarded-for': address });
  const tokenAt = (form: Record<string, string>, headers: Record<string, string>) => post(`${kh.issuer}/token`, form, auth, headers);

  for (let i = 0; i < 3; i++) {
    const r = await tokenAt({ grant_type: 'refresh_token', refresh_token: `guess-${i}` }, from('192.0.2.10'));
    t.equal(r.status, 400, `guess ${i + 1}: invalid_grant`);
  }
  const fourth = await tokenAt({ grant_type: 'refresh_token', refresh_token: 'guess-3' }, from('192.0.2.10'));
  t.equal(fourth.status, 429, 'the fourth failed request from the address answers 429');
  t.ok(Number(fourth.headers.get('retry-after')) >= 1);
  await sleep(100);
  const fifth = await tokenAt({ grant_type: 'refresh_token', refresh_token: 'guess-4' }, from('192.0.2.10'));
  t.equal(fifth.status, 429, 'and the address is refused before any work');
  const elsewhere = await tokenAt({ grant_type: 'refresh_token', refresh_token: 'guess-5' }, from('192.0.2.11'));
  t.equal(elsewhere.status, 400, 'another address is not limited');

  const { rows } = await kh.db.pool.query<{ hits: number }>("SELECT hits FROM rate_limits WHERE bucket = 'token:address:192.0.2.10'");
  t.equal(rows[0]?.hits, 4, 'requests refused with 429 are not counted again');
  const { rowCount } = await kh.db.pool.query("SELECT 1 FROM rate_limits WHERE bucket LIKE 'token:client:%'");
  t.equal(rowCount, 0, 'a client that authenticated is not counted for a bad grant');

  const cc = await createClient(kh.clients, ccClient);
  for (let i = 0; i < 10; i++) {
    const ok = await post(`${kh.issuer}/token`, { grant_type: 'client_credentials' }, { clientId: cc.client.id, secret: cc.secret });
    t.equal(ok.status, 200);
  }
  const { rowCount: loopback } = await kh.db.pool.query("SELECT 1 FROM rate_limits WHERE bucket = 'token:address:127.0.0.1'");
  t.equal(loopback, 0, 'successful requests leave no counter');
});

t.test('a limit of 0 turns the token limits off', async (t) => {
  const kh = await startTestApp(t, { env: { RATE_LIMIT_TOKEN_FAILURES_PER_MINUTE: '0' } });
  const { client } = await createClient(kh.clients, ccClient);
  for (let i = 0; i < 8; i++) {
    const r = await post(`${kh.issuer}/token`, { grant_type: 'client_credentials' }, { clientId: client.id, secret: `khs_wrong${i}` });
    t.equal(r.status, 401);
  }
  const { rowCount } = await kh.db.pool.query('SELECT 1 FROM rate_limits');
  t.equal(rowCount, 0);
});
