import t from 'tap';
import packageJson from '../../package.json' with { type: 'json' };
import { adminToken } from '../helpers/admin.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { Agent, loginForm, postSignIn } from '../helpers/browserless.ts';
import { hashSecret } from '../../src/passwords.ts';
import { basicAuth, createClient, createUser } from '../helpers/fixtures.ts';
import { codeRequest, signInForTokens, userinfo } from '../helpers/flow.ts';
import { parseExposition, scrape, type Exposition } from '../helpers/metrics.ts';

/** /metrics after real traffic: each family holds the samples that traffic must have produced. */

const ccClient = { type: 'client-credentials' as const, name: 'Batch job', redirectUris: [], postLogoutRedirectUris: [] };

/** A token request with client_secret_basic, as if from `address` (behind the one trusted proxy). */
async function token(kh: TestApp, form: Record<string, string>, auth: { clientId: string; secret: string }, address: string) {
  const response = await fetch(`${kh.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(auth.clientId, auth.secret), 'x-forwarded-for': address },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const count = (m: Exposition, name: string, labels: Record<string, string>) => m.value(`${name}_count`, labels) ?? 0;

t.test('token requests by grant type and outcome, 429s by limit, provider endpoints by name, the pool, the process', async (t) => {
  const kh = await startTestApp(t, { env: { RATE_LIMIT_TOKEN_FAILURES_PER_MINUTE: '3', TRUST_PROXY: 'true' } });
  const cc = await createClient(kh.clients, ccClient);
  const hybrid = await createClient(kh.clients);
  const ccAuth = { clientId: cc.client.id, secret: cc.secret };
  const hybridAuth = { clientId: hybrid.client.id, secret: hybrid.secret };
  const grantCC = { grant_type: 'client_credentials' };

  // Two successes and a wrong secret.
  const first = await token(kh, grantCC, ccAuth, '198.51.100.1');
  t.equal(first.status, 200);
  t.equal((await token(kh, grantCC, ccAuth, '198.51.100.1')).status, 200);
  t.equal((await token(kh, grantCC, { ...ccAuth, secret: 'khs_wrong' }, '198.51.100.2')).body.error, 'invalid_client');
  // A grant type Keyhold does not serve: counted under `other`.
  t.equal((await token(kh, { grant_type: 'password', username: 'u', password: 'p' }, ccAuth, '198.51.100.3')).body.error, 'unsupported_grant_type');

  // One address failing beyond the limit (3 a minute): the fourth answer is 429, and so is the next,
  // refused before the provider reads the request.
  const badCode = { grant_type: 'authorization_code', code: 'no-such-code', redirect_uri: 'https://app.example.com/callback', code_verifier: 'v'.repeat(43) };
  for (let i = 0; i < 3; i++) t.equal((await token(kh, badCode, hybridAuth, '198.51.100.4')).body.error, 'invalid_grant');
  t.equal((await token(kh, badCode, hybridAuth, '198.51.100.4')).status, 429, 'the address is over its limit');
  t.equal((await token(kh, badCode, hybridAuth, '198.51.100.4')).status, 429, 'and refused ahead');

  // One client failing from several addresses: its fourth failure is 429, then even its right secret.
  for (const address of ['198.51.100.10', '198.51.100.11']) {
    t.equal((await token(kh, grantCC, { ...ccAuth, secret: 'khs_wrong' }, address)).body.error, 'invalid_client');
  }
  t.equal((await token(kh, grantCC, { ...ccAuth, secret: 'khs_wrong' }, '198.51.100.12')).status, 429, 'the client is over its limit');
  t.equal((await token(kh, grantCC, ccAuth, '198.51.100.13')).status, 429, 'and refused even with the right secret');

  // Other provider endpoints, and Fastify routes with ids in their URLs.
  t.equal((await userinfo(kh.issuer, String(first.body.access_token))).status, 401, 'a client-credentials token has no user');
  t.equal((await fetch(`${kh.issuer}/jwks`)).status, 200);
  t.equal((await fetch(`${kh.issuer}/.well-known/openid-configuration`)).status, 200);
  t.equal((await fetch(`${kh.issuer}/token/no-such-endpoint`)).status, 404);
  t.equal((await fetch(`${kh.origin}/no/such/page/${cc.client.id}`)).status, 404);
  const { api } = await adminToken(kh);
  t.equal((await api('GET', `/clients/${hybrid.client.id}`)).status, 200);

  const response = await fetch(`${kh.origin}/metrics`);
  t.equal(response.status, 200);
  t.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  t.equal(response.headers.get('cache-control'), 'no-store');
  const text = await response.text();
  const m = parseExposition(text);

  t.equal(m.types.get('keyhold_token_requests_total'), 'counter');
  t.equal(m.value('keyhold_token_requests_total', { grant_type: 'client_credentials', outcome: 'success' }), 3, 'two, and the admin token');
  t.equal(m.value('keyhold_token_requests_total', { grant_type: 'client_credentials', outcome: 'invalid_client' }), 3, 'wrong secrets');
  t.equal(m.value('keyhold_token_requests_total', { grant_type: 'client_credentials', outcome: 'temporarily_unavailable' }), 2, "the client's 429s");
  t.equal(m.value('keyhold_token_requests_total', { grant_type: 'other', outcome: 'unsupported_grant_type' }), 1, 'a grant type not served');
  t.equal(m.value('keyhold_token_requests_total', { grant_type: 'authorization_code', outcome: 'invalid_grant' }), 3);
  t.equal(m.value('keyhold_token_requests_total', { grant_type: 'authorization_code', outcome: 'temporarily_unavailable' }), 1, "the address's first 429");
  t.equal(m.value('keyhold_token_requests_total', { grant_type: 'other', outcome: 'temporarily_unavailable' }), 1, 'refused before its grant type was read');

  t.equal(m.types.get('keyhold_rate_limited_total'), 'counter');
  t.equal(m.value('keyhold_rate_limited_total', { limit: 'token_address' }), 2);
  t.equal(m.value('keyhold_rate_limited_total', { limit: 'token_client' }), 2);
  t.equal(m.value('keyhold_rate_limited_total', { limit: 'signin_address' }), 0, 'no sign-in was refused');
  t.equal(m.value('keyhold_signins_total', { outcome: 'success' }), 0, 'the fixed series start at 0');
  t.equal(m.value('keyhold_lockouts_total'), 0);

  const http = 'keyhold_http_request_duration_seconds';
  t.equal(m.types.get(http), 'histogram');
  t.equal(count(m, http, { method: 'POST', route: 'token', status: '200' }), 3, 'token successes, the admin token included');
  t.equal(count(m, http, { method: 'POST', route: 'token', status: '401' }), 3);
  t.equal(count(m, http, { method: 'POST', route: 'token', status: '429' }), 4);
  t.equal(count(m, http, { method: 'GET', route: 'userinfo', status: '401' }), 1);
  t.equal(count(m, http, { method: 'GET', route: 'jwks', status: '200' }), 1);
  t.equal(count(m, http, { method: 'GET', route: 'discovery', status: '200' }), 1);
  t.equal(count(m, http, { method: 'GET', route: 'unknown', status: '404' }), 2, 'paths matching no route: one label');
  t.equal(count(m, http, { method: 'GET', route: '/api/v1/clients/:id', status: '200' }), 1, 'Fastify routes by pattern');
  t.ok(m.find(`${http}_bucket`, { route: 'token', status: '200', le: '+Inf' }).length === 1, 'with buckets');
  t.ok((m.value(`${http}_sum`, { method: 'POST', route: 'token', status: '200' }) ?? 0) > 0, 'and durations');
  const routes = new Set(m.find(`${http}_count`).map((s) => s.labels.route!));
  t.ok([...routes].every((route) => /^(\/[a-z0-9/:*._-]*|[a-z._]+)$/.test(route)), `route labels are patterns or names: ${[...routes].join(', ')}`);

  // Nothing a request chose, and nothing secret, becomes a label.
  for (const value of [cc.client.id, hybrid.client.id, cc.secret, hybrid.secret, 'no-such-code', '198.51.100.4', 'no-such-endpoint']) {
    t.notOk(text.includes(value), `${value.slice(0, 12)}... is not in the metrics`);
  }

  t.equal(m.types.get('keyhold_db_query_duration_seconds'), 'histogram');
  t.ok(count(m, 'keyhold_db_query_duration_seconds', {}) > 0, 'statements timed');
  t.ok((m.value('keyhold_db_query_duration_seconds_sum') ?? 0) > 0);
  t.equal(m.value('keyhold_db_query_errors_total'), 0);
  t.equal(m.types.get('keyhold_db_pool_connections'), 'gauge');
  const idle = m.value('keyhold_db_pool_connections', { state: 'idle' });
  const inUse = m.value('keyhold_db_pool_connections', { state: 'in_use' });
  t.ok(idle !== undefined && inUse !== undefined && idle + inUse > 0, `connections open: ${idle} idle, ${inUse} in use`);
  t.equal(m.value('keyhold_db_pool_waiting_requests'), 0);
  t.equal(m.value('keyhold_db_pool_max_connections'), 5, "the test pool's size");

  t.equal(m.value('keyhold_info', { version: packageJson.version }), 1);
  t.ok((m.value('keyhold_uptime_seconds') ?? -1) >= 0);
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
    t.ok(m.find(name).length > 0, `${name} (process metrics)`);
  }

  // A statement that fails is counted as such.
  const before = m.value('keyhold_db_query_errors_total')!;
  await kh.db.pool.query('SELECT 1/0').catch(() => undefined);
  t.equal((await scrape(kh.origin)).value('keyhold_db_query_errors_total'), before + 1, 'a failed statement');
});

/** One sign-in post on a fresh sign-in page, from `address` (behind the trusted proxy) when given. */
async function signInAttempt(kh: TestApp, clientId: string, username: string, password: string, address?: string) {
  const headers: Record<string, string> = address ? { 'x-forwarded-for': address } : {};
  const agent = new Agent();
  const url = new URL(`${kh.issuer}/auth`);
  url.search = new URLSearchParams(codeRequest(clientId, 'https://app.example.com/callback')).toString();
  const { response } = await agent.follow(url.href, kh.origin, { headers });
  const form = loginForm(await response.text());
  const answer = await postSignIn(agent, new URL(form.action, kh.origin).href, { username, password, csrf: form.csrf }, headers);
  return answer.refused ? 'refused' : answer.status;
}

t.test('sign-ins by outcome, lockouts, the sign-in limit, password verifications', async (t) => {
  const kh = await startTestApp(t, { env: { LOCKOUT_THRESHOLD: '2', RATE_LIMIT_SIGNIN_PER_MINUTE: '6', TRUST_PROXY: 'true' } });
  const { client, secret } = await createClient(kh.clients);
  const alice = await createUser(kh.users);
  const bob = await createUser(kh.users);

  // A code flow sign-in, its token and userinfo.
  const { accessToken } = await signInForTokens(kh, { id: client.id, secret }, alice, 'openid');
  t.equal((await userinfo(kh.issuer, accessToken)).status, 200);
  t.equal(await signInAttempt(kh, client.id, alice.username, 'wrong password'), 'refused');
  // Bob's second failure locks his name; then even his right password is refused, as locked.
  t.equal(await signInAttempt(kh, client.id, bob.username, 'wrong password'), 'refused');
  t.equal(await signInAttempt(kh, client.id, bob.username, 'wrong password'), 'refused');
  t.equal(await signInAttempt(kh, client.id, bob.username, bob.password), 'refused');
  // Another address: six posts a minute are allowed, the seventh is refused before any password is checked.
  for (let i = 0; i < 6; i++) t.equal(await signInAttempt(kh, client.id, `nobody-${i}`, 'guess', '203.0.113.50'), 'refused');
  t.equal(await signInAttempt(kh, client.id, 'nobody-7', 'guess', '203.0.113.50'), 429);

  // A client secret issued before digests is checked with argon2id too.
  const legacy = await createClient(kh.clients, ccClient);
  const legacyValue = 'a-secret-from-before-digests';
  await kh.db.pool.query('INSERT INTO client_secrets (client_id, description, legacy_hash) VALUES ($1, $2, $3)', [legacy.client.id, 'old', await hashSecret(legacyValue)]);
  t.equal((await token(kh, { grant_type: 'client_credentials' }, { clientId: legacy.client.id, secret: legacyValue }, '198.51.100.1')).status, 200);

  const text = await (await fetch(`${kh.origin}/metrics`)).text();
  const m = parseExposition(text);
  t.equal(m.types.get('keyhold_signins_total'), 'counter');
  t.equal(m.value('keyhold_signins_total', { outcome: 'success' }), 1);
  t.equal(m.value('keyhold_signins_total', { outcome: 'failure' }), 9, "alice's, bob's two, and the six guesses");
  t.equal(m.value('keyhold_signins_total', { outcome: 'locked' }), 1, "bob's right password while locked");
  t.equal(m.value('keyhold_signins_total', { outcome: 'rate_limited' }), 1);
  t.equal(m.types.get('keyhold_lockouts_total'), 'counter');
  t.equal(m.value('keyhold_lockouts_total'), 1, 'one name locked');
  t.equal(m.value('keyhold_rate_limited_total', { limit: 'signin_address' }), 1);

  t.equal(m.value('keyhold_password_verifications_total', { purpose: 'signin' }), 11, 'one argon2id verification per post that got past the limit');
  t.equal(m.value('keyhold_password_verification_duration_seconds_count', { purpose: 'signin' }), 11);
  t.ok((m.value('keyhold_password_verification_duration_seconds_sum', { purpose: 'signin' }) ?? 0) > 0);
  t.equal(m.value('keyhold_password_verifications_total', { purpose: 'client_secret' }), 1, 'and the old client secret');

  t.equal(m.value('keyhold_token_requests_total', { grant_type: 'authorization_code', outcome: 'success' }), 1);
  const http = 'keyhold_http_request_duration_seconds';
  t.equal(count(m, http, { method: 'GET', route: 'userinfo', status: '200' }), 1);
  t.equal(count(m, http, { method: 'GET', route: 'authorization', status: '303' }), 12, 'every sign-in page was reached from the authorization endpoint');
  // Refused or signed in, a sign-in post answers 303 (a refusal back to the sign-in page): 10 refusals and one sign-in.
  t.equal(count(m, http, { method: 'POST', route: '/interaction/:uid/login', status: '303' }), 11);
  t.equal(count(m, http, { method: 'POST', route: '/interaction/:uid/login', status: '429' }), 1);

  for (const value of [alice.username, bob.username, alice.password, 'wrong password', 'nobody-', '203.0.113.50', accessToken, secret, legacyValue]) {
    t.notOk(text.includes(value), `${value.slice(0, 12)}... is not in the metrics`);
  }
});

t.test('METRICS_ALLOW: loopback by default, judged on the peer and on the address the trusted proxy reports', async (t) => {
  const status = async (kh: TestApp, forwardedFor?: string) => {
    const response = await fetch(`${kh.origin}/metrics`, { headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} });
    const body = await response.text();
    if (response.status !== 200) t.notMatch(body, /keyhold_|process_/, 'a refusal carries no metrics');
    return response.status;
  };

  const direct = await startTestApp(t);
  t.equal(await status(direct), 200, 'loopback is allowed by default');
  t.equal(await status(direct, '203.0.113.9'), 200, 'without TRUST_PROXY, X-Forwarded-For changes nothing');

  const proxied = await startTestApp(t, { env: { TRUST_PROXY: 'true' }, db: direct.db });
  t.equal(await status(proxied), 200, 'the proxy host itself (no X-Forwarded-For) is loopback');
  t.equal(await status(proxied, '203.0.113.9'), 403, 'a request the local proxy forwarded from outside is refused');
  t.equal(await status(proxied, '127.0.0.1, 203.0.113.9'), 403, 'a leftmost entry written by the client does not help');
  t.equal(await status(proxied, '127.0.0.1'), 200, 'a request the proxy forwarded from this host');
  t.equal(await status(proxied, '::1'), 200, 'IPv6 loopback too');
  const refused = await fetch(`${proxied.origin}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
  t.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
  t.match(await refused.json(), { status: 403 });

  const ranges = await startTestApp(t, { env: { TRUST_PROXY: 'true', METRICS_ALLOW: '127.0.0.0/8, 203.0.113.0/24' }, db: direct.db });
  t.equal(await status(ranges, '203.0.113.9'), 200, 'a range in the list is allowed');
  t.equal(await status(ranges, '198.51.100.1'), 403, 'an address outside it is not');

  // Both addresses must be allowed: a connection from elsewhere (here: loopback, absent from the list)
  // cannot pass by naming an allowed address in X-Forwarded-For.
  const remoteOnly = await startTestApp(t, { env: { TRUST_PROXY: 'true', METRICS_ALLOW: '203.0.113.0/24' }, db: direct.db });
  t.equal(await status(remoteOnly, '203.0.113.9'), 403, 'the connecting peer is not in the list');
  const untrusted = await startTestApp(t, { env: { METRICS_ALLOW: '203.0.113.0/24' }, db: direct.db });
  t.equal(await status(untrusted, '203.0.113.9'), 403, 'nor is a header believed without TRUST_PROXY');
});
