import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { createPool } from '../../src/db/pool.ts';
import { adminToken, answerOf } from '../helpers/admin.ts';
import { startTestApp } from '../helpers/app.ts';
import { loginForm } from '../helpers/browserless.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, APP_REDIRECT, authorize, codeRequest, post, signInForTokens, userinfo } from '../helpers/flow.ts';
import { startPrivatePostgres } from '../helpers/private-postgres.ts';

/**
 * A real outage: Keyhold runs on a Postgres server of the test's own (test/helpers/private-postgres.ts: a
 * PostgreSQL 15 server where one is installed, else an embedded Postgres), which the test stops (a fast
 * shutdown: sessions terminated, connections refused) and starts again.
 */

/** Polls `check` until it holds; fails after `seconds`. A bound on waiting, not a speed assertion. */
async function eventually(what: string, check: () => Promise<boolean>, seconds = 30): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${seconds} s`);
    await sleep(200);
  }
}

t.test('with the database down every endpoint answers 503 as its kind answers, and service resumes by itself', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => void process.off('unhandledRejection', onUnhandled));

  const pg = await startPrivatePostgres(t);
  t.comment(`the private server: ${pg.kind}, Postgres ${pg.version}`);
  const pool = createPool({ connectionString: pg.url, max: 5 });
  t.teardown(() => pool.end());
  const kh = await startTestApp(t, { db: { url: pg.url, pool }, sweepIntervalMs: 300 });

  // Stored before the outage: a user, a hybrid client with refresh tokens, live tokens, an admin client,
  // and a sign-in in progress (its page shown).
  const { username, password } = await createUser(kh.users);
  const { client, secret } = await createClient(kh.clients, { allowRefreshToken: true });
  const tokens = await signInForTokens(kh, { id: client.id, secret }, { username, password });
  const admin = await adminToken(kh);
  const agent = new Agent();
  const pending = await authorize(agent, kh.issuer, codeRequest(client.id, APP_REDIRECT));
  t.equal(pending.status, 200, 'a sign-in page is open when the outage begins');
  const interactionUrl = pending.target;
  const { action, csrf } = loginForm(pending.html!);

  await pg.stop();

  t.equal((await fetch(`${kh.origin}/healthz`)).status, 200, '/healthz: the process is alive');
  t.equal((await fetch(`${kh.origin}/readyz`)).status, 503, '/readyz: not ready');

  // OAuth endpoints: 503 temporarily_unavailable JSON with Retry-After.
  const oauth = async (what: string, answer: Promise<{ status: number; headers: Headers; body: Record<string, unknown> }>) => {
    const r = await answer;
    t.equal(r.status, 503, `${what}: 503`);
    t.equal(r.body.error, 'temporarily_unavailable', `${what}: temporarily_unavailable`);
    t.match(r.headers.get('content-type') ?? '', /^application\/json/, `${what}: JSON`);
    t.equal(r.headers.get('retry-after'), '5', `${what}: Retry-After`);
    t.equal(r.headers.get('cache-control'), 'no-store', `${what}: not cached`);
  };
  const ccClient = { clientId: admin.clientId, secret: admin.secret };
  await oauth('client_credentials', post(`${kh.issuer}/token`, { grant_type: 'client_credentials', scope: 'admin' }, ccClient));
  await oauth('client_credentials with a wrong secret (no invalid_client: nothing could be checked)', post(`${kh.issuer}/token`, { grant_type: 'client_credentials' }, { clientId: admin.clientId, secret: 'khs_wrong' }));
  await oauth('refresh', post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refreshToken }, { clientId: client.id, secret }));
  await oauth('introspection', post(`${kh.issuer}/token/introspection`, { token: tokens.accessToken }, { clientId: client.id, secret }));
  await oauth('revocation', post(`${kh.issuer}/token/revocation`, { token: tokens.refreshToken }, { clientId: client.id, secret }));
  const me = await fetch(`${kh.issuer}/me`, { headers: { authorization: `Bearer ${tokens.accessToken}`, accept: 'application/json' } });
  await oauth('userinfo', answerOf(me).then((a) => ({ status: a.status, headers: a.headers, body: a.body as Record<string, unknown> })));

  // A request refused before anything is read keeps its answer (the failure just cannot be counted).
  const unauthenticated = await post(`${kh.issuer}/token`, { grant_type: 'client_credentials' });
  t.equal(unauthenticated.status, 400, 'a request without client authentication: still 400');
  t.equal(unauthenticated.body.error, 'invalid_request');

  // The admin API: problem+json.
  const listed = await admin.api('GET', '/clients');
  t.equal(listed.status, 503, 'admin API: 503');
  t.match(listed.headers.get('content-type') ?? '', /^application\/problem\+json/);
  t.equal(listed.headers.get('retry-after'), '5');
  t.match(listed.body, { status: 503, type: 'https://keyhold.dev/problems/database-unavailable', title: 'Service unavailable' });

  // Pages: a readable 503 page.
  const page = async (what: string, response: Promise<Response>) => {
    const r = await response;
    const html = await r.text();
    t.equal(r.status, 503, `${what}: 503`);
    t.match(r.headers.get('content-type') ?? '', /^text\/html/, `${what}: a page`);
    t.match(html, /Keyhold is unavailable for a moment/, `${what}: says so`);
    t.equal(r.headers.get('retry-after'), '5', `${what}: Retry-After`);
    t.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, `${what}: a page's headers`);
  };
  const authUrl = new URL(`${kh.issuer}/auth`);
  authUrl.search = new URLSearchParams(codeRequest(client.id, APP_REDIRECT)).toString();
  await page('the authorization endpoint (a sign-in begins)', new Agent().fetch(authUrl.href));
  await page('the sign-in page', agent.fetch(interactionUrl));
  await page(
    'the sign-in form posted',
    agent.fetch(new URL(action, kh.origin).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username, password, csrf }).toString(),
    }),
  );
  // As a browser asks (the engine answers JSON to a client that prefers it).
  const browser = { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } };
  await page('the end-session endpoint', agent.fetch(`${kh.issuer}/session/end?client_id=${client.id}`, browser));

  // What needs no database is still served.
  t.equal((await fetch(`${kh.issuer}/.well-known/openid-configuration`)).status, 200, 'discovery');
  t.equal((await fetch(`${kh.issuer}/jwks`)).status, 200, 'the JWKS');

  await eventually('the background sweep reports its failure', async () => kh.logs.text.includes('sweeping expired provider rows failed'));
  t.notMatch(kh.logs.text, /"level":50/, 'no error-level log line: an outage is a warning');
  t.match(kh.logs.text, /the database is unavailable: answering 503/);

  await pg.start();

  await eventually('ready again', async () => (await fetch(`${kh.origin}/readyz`)).status === 200);
  await eventually('the LISTEN connection is back', async () => {
    const { rowCount } = await pool.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'keyhold-listener' AND query ILIKE 'LISTEN%'");
    return rowCount === 1;
  });

  // Everything stored before the outage works.
  const cc = await post(`${kh.issuer}/token`, { grant_type: 'client_credentials', scope: 'admin' }, ccClient);
  t.equal(cc.status, 200, 'client_credentials works again');
  const after = await admin.api('GET', '/clients');
  t.equal(after.status, 200, 'the admin API works again (with a token issued before the outage)');
  t.ok(after.body.items.some((c: { id: string }) => c.id === client.id), 'the client is still there');
  t.equal((await userinfo(kh.issuer, tokens.accessToken)).status, 200, 'an access token from before the outage works');
  const refreshed = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: tokens.refreshToken }, { clientId: client.id, secret });
  t.equal(refreshed.status, 200, 'the refresh token from before the outage works (the revocation during the outage did nothing)');

  // The sign-in begun before the outage completes, with the user stored before it.
  const signedIn = await agent.follow(new URL(action, kh.origin).href, kh.origin, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, csrf }).toString(),
  });
  t.match(signedIn.url, /^https:\/\/app\.example\.com\/callback\?code=/, 'the sign-in open during the outage completes');

  // The outage counted no failed authentication against anyone.
  const { rows } = await pool.query<{ bucket: string }>("SELECT bucket FROM rate_limits WHERE bucket LIKE 'token:%'");
  t.same(rows, [], 'no failure was counted for the requests answered 503');

  t.same(unhandled, [], 'no unhandled rejection');
});
