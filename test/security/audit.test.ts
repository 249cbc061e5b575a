import { randomBytes } from 'node:crypto';
import t from 'tap';
import { createAuditTrail } from '../../src/audit.ts';
import { adminToken, type Api } from '../helpers/admin.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { Agent, loginForm, postSignIn } from '../helpers/browserless.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { codeRequest, post, signInForTokens } from '../helpers/flow.ts';
import { until } from '../helpers/wait.ts';

/** The audit trail: who did what, when, from where; never a secret; no change without its event. */

interface Event {
  id: string;
  at: string;
  type: string;
  actor: { kind: string; id?: string; username?: string };
  target: { kind: string; id: string; name?: string } | null;
  clientId: string | null;
  userId: string | null;
  address: string | null;
  outcome: string;
  details: Record<string, unknown>;
}

/** Events of a type (newest first), waiting for those written off the request path (within a second or two). */
async function events(api: Api, query: Record<string, string>, atLeast = 1): Promise<Event[]> {
  const read = async () => {
    const answer = await api('GET', `/audit-events?${new URLSearchParams(query)}`);
    if (answer.status !== 200) throw new Error(`audit-events answered ${answer.status}: ${answer.text}`);
    return answer.body.items as Event[];
  };
  // Fewer than asked for after the wait: the assertions that follow say what is missing.
  return until(`${atLeast} ${query.type ?? ''} event(s)`, async () => {
    const items = await read();
    return items.length >= atLeast && items;
  }, 5_000).catch(read);
}

async function everyEventText(kh: TestApp): Promise<string> {
  const { rows } = await kh.db.pool.query('SELECT row_to_json(a)::text AS row FROM audit_events a');
  return rows.map((r) => r.row as string).join('\n');
}

async function wrongSignIn(kh: TestApp, clientId: string, username: string) {
  const agent = new Agent();
  const url = new URL(`${kh.issuer}/auth`);
  url.search = new URLSearchParams(codeRequest(clientId, 'https://app.example.com/callback')).toString();
  const page = await agent.follow(url.href, kh.origin);
  const form = loginForm(await page.response.text());
  const answer = await postSignIn(agent, new URL(form.action, kh.origin).href, { username, password: 'not the password', csrf: form.csrf });
  return answer.refused ? 'refused' : answer.status;
}

t.test('admin changes: one event each, in the transaction of the change, with before and after and never a secret', async (t) => {
  const kh = await startTestApp(t);
  const { api, clientId: automation } = await adminToken(kh);

  const created = await api('POST', '/clients', { type: 'hybrid', name: 'Payroll', redirectUris: ['https://payroll.example.com/cb'], secret: { description: 'first' } });
  t.equal(created.status, 201);
  const id = created.body.client.id as string;
  const secretValue = created.body.secret.value as string;
  const [made] = await events(api, { type: 'client.created', clientId: id });
  t.match(made, {
    type: 'client.created',
    actor: { kind: 'client', id: automation },
    target: { kind: 'client', id, name: 'Payroll' },
    clientId: id,
    address: '127.0.0.1',
    outcome: 'success',
    details: { after: { name: 'Payroll', redirectUris: ['https://payroll.example.com/cb'], allowRefreshToken: false }, secret: { description: 'first' } },
  });
  t.ok(Date.parse(made!.at) > Date.now() - 60_000, 'with the time it happened');

  t.equal((await api('PATCH', `/clients/${id}`, { name: 'Payroll 2', allowRefreshToken: true })).status, 200);
  const [changed] = await events(api, { type: 'client.updated', clientId: id });
  t.same(changed!.details, { before: { name: 'Payroll', allowRefreshToken: false }, after: { name: 'Payroll 2', allowRefreshToken: true } }, 'only what changed, before and after');

  const added = await api('POST', `/clients/${id}/secrets`, { description: 'rotation' });
  t.equal((await api('DELETE', `/clients/${id}/secrets/${added.body.id}`)).status, 204);
  t.match((await events(api, { type: 'client.secret_created', clientId: id }))[0], { target: { kind: 'secret', id: added.body.id }, details: { description: 'rotation' } });
  t.match((await events(api, { type: 'client.secret_deleted', clientId: id }))[0], { target: { kind: 'secret', id: added.body.id } });

  t.equal((await api('DELETE', `/clients/${id}`)).status, 204);
  t.match((await events(api, { type: 'client.deleted', clientId: id }))[0], { details: { before: { name: 'Payroll 2' } } });

  const user = await api('POST', '/users', { username: 'grace', password: 'a long enough password', roles: [] });
  const userId = user.body.id as string;
  t.equal((await api('PATCH', `/users/${userId}`, { name: 'Grace Hopper', password: 'another long password' })).status, 200);
  const [userChanged] = await events(api, { type: 'user.updated', userId });
  t.same(userChanged!.details, { before: { name: null }, after: { name: 'Grace Hopper' }, passwordChanged: true }, 'a password change is noted, the password is not');
  t.match((await events(api, { type: 'user.created', userId }))[0], { details: { after: { username: 'grace' }, passwordSet: true } });
  t.equal((await api('POST', `/users/${userId}/unlock`)).status, 200);
  t.equal((await events(api, { type: 'user.unlocked', userId })).length, 1);
  t.equal((await api('DELETE', `/users/${userId}`)).status, 204);
  t.match((await events(api, { type: 'user.deleted', userId }))[0], { actor: { kind: 'client', id: automation }, details: { before: { username: 'grace' } } });

  const everything = await everyEventText(kh);
  for (const secret of [secretValue, added.body.value as string, 'a long enough password', 'another long password', '$argon2', 'secret_digest']) {
    t.notOk(everything.includes(secret), `no ${secret.slice(0, 8)}... in any event`);
  }
  const hashes = await kh.db.pool.query<{ d: string }>('SELECT secret_digest AS d FROM client_secrets');
  for (const { d } of hashes.rows) t.notOk(everything.includes(d), 'no secret digest in any event');
});

t.test('no change without its event, and no event without its change', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const { client } = await createClient(kh.clients, { name: 'Before' });
  const count = async () => Number((await kh.db.pool.query('SELECT count(*) FROM audit_events')).rows[0].count);
  const before = await count();

  // The event cannot be written (a real Postgres refusal): the change is rolled back with it.
  const fn = `refuse_audit_${randomBytes(4).toString('hex')}`;
  await kh.db.pool.query(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no audit today'; END $$`);
  await kh.db.pool.query(`CREATE TRIGGER ${fn} BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
  const refused = await api('PATCH', `/clients/${client.id}`, { name: 'After' });
  t.equal(refused.status, 500);
  t.equal((await kh.clients.findById(client.id))?.name, 'Before', 'the change did not happen');
  const user = await api('POST', '/users', { username: 'nobody-yet' });
  t.equal(user.status, 500);
  t.equal(await kh.users.findCredentials('nobody-yet'), undefined, 'nor did the user');
  await kh.db.pool.query(`DROP TRIGGER ${fn} ON audit_events`);

  // A refused request changes nothing and records nothing.
  t.equal((await api('PATCH', `/clients/${client.id}`, { name: '' })).status, 400);
  t.equal((await api('DELETE', '/clients/00000000-0000-4000-8000-000000000000')).status, 404);
  t.equal(await count(), before, 'no event for what did not happen');
  t.equal((await api('PATCH', `/clients/${client.id}`, { name: 'After' })).status, 200);
  t.equal(await count(), before + 1);
});

t.test('sign-ins, failures, lockouts, logouts and failed client authentications', async (t) => {
  const kh = await startTestApp(t, { env: { LOCKOUT_THRESHOLD: '2', RATE_LIMIT_SIGNIN_PER_MINUTE: '0' } });
  const { api } = await adminToken(kh);
  const { client, secret } = await createClient(kh.clients, { allowRefreshToken: true });
  const creds = await createUser(kh.users);
  const userId = creds.user.id;

  await signInForTokens(kh, { id: client.id, secret }, creds);
  t.match((await events(api, { type: 'signin.succeeded', userId }))[0], {
    actor: { kind: 'user', id: userId, username: creds.username },
    clientId: client.id,
    address: '127.0.0.1',
    outcome: 'success',
  });

  const typed = `looks-like-a-password-${randomBytes(4).toString('hex')}`;
  t.equal(await wrongSignIn(kh, client.id, typed), 'refused');
  const [unknown] = await events(api, { type: 'signin.failed', clientId: client.id });
  t.match(unknown, { outcome: 'failure', userId: null, details: { reason: 'wrong_credentials', knownUser: false } });
  t.notOk((await everyEventText(kh)).includes(typed), 'what was typed as an unknown name is not recorded');

  await wrongSignIn(kh, client.id, creds.username);
  await wrongSignIn(kh, client.id, creds.username);
  const [locked] = await events(api, { type: 'user.locked', userId });
  t.match(locked, { target: { kind: 'user', id: userId }, details: { failures: 2 } });
  await wrongSignIn(kh, client.id, creds.username);
  const failures = await events(api, { type: 'signin.failed', userId }, 3);
  t.same(failures.map((e) => e.details.reason), ['locked', 'wrong_credentials', 'wrong_credentials'], 'newest first, a refusal while locked says so');

  t.equal((await post(`${kh.issuer}/token`, { grant_type: 'client_credentials' }, { clientId: client.id, secret: 'khs_wrong' })).status, 401);
  t.match((await events(api, { type: 'client.authentication_failed', clientId: client.id }))[0], { outcome: 'failure', address: '127.0.0.1', details: { endpoint: 'token' } });

  const tokenEvents = await api('GET', '/audit-events?type=token.issued');
  t.same(tokenEvents.body.items, [], 'token issuance is not recorded unless asked for');
});

t.test('a logout is recorded', async (t) => {
  const kh = await startTestApp(t, { env: { RATE_LIMIT_SIGNIN_PER_MINUTE: '0' } });
  const { api } = await adminToken(kh);
  const { client, secret } = await createClient(kh.clients, { postLogoutRedirectUris: ['https://app.example.com/bye'] });
  const creds = await createUser(kh.users);
  const agent = new Agent();
  await signInForTokens(kh, { id: client.id, secret }, creds, 'openid', agent);
  const page = await agent.fetch(`${kh.issuer}/session/end?${new URLSearchParams({ client_id: client.id, post_logout_redirect_uri: 'https://app.example.com/bye' })}`);
  const html = await page.text();
  const action = /<form[^>]*method="post" action="([^"]+)"/.exec(html)![1]!.replace(/&amp;/g, '&');
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)![1]!;
  const done = await agent.fetch(new URL(action, kh.origin).href, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
  });
  t.equal(done.status, 303);
  t.match((await events(api, { type: 'logout', userId: creds.user.id }))[0], { clientId: client.id, actor: { kind: 'user', id: creds.user.id }, details: { everywhere: true } });
});

t.test('with AUDIT_TOKEN_EVENTS, each token issuance is an event', async (t) => {
  const kh = await startTestApp(t, { env: { AUDIT_TOKEN_EVENTS: 'true' } });
  const { api, clientId } = await adminToken(kh);
  const [issued] = await events(api, { type: 'token.issued', clientId });
  t.match(issued, { actor: { kind: 'client', id: clientId }, clientId, userId: null, details: { grantType: 'client_credentials' } });
  t.notOk(JSON.stringify(issued).includes('access_token'), 'no token in it');
});

t.test('the query: filters, pages, and clear refusals', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  for (let i = 0; i < 5; i++) t.equal((await api('POST', '/users', { username: `user-${i}` })).status, 201);

  const first = await api('GET', '/audit-events?type=user.created&limit=2');
  t.equal(first.body.items.length, 2);
  t.same(first.body.items.map((e: Event) => e.target?.name), ['user-4', 'user-3'], 'newest first');
  const second = await api('GET', `/audit-events?type=user.created&limit=2&cursor=${first.body.nextCursor}`);
  t.same(second.body.items.map((e: Event) => e.target?.name), ['user-2', 'user-1']);
  const third = await api('GET', `/audit-events?type=user.created&limit=2&cursor=${second.body.nextCursor}`);
  t.same(third.body.items.map((e: Event) => e.target?.name), ['user-0']);
  t.equal(third.body.nextCursor, null);

  const future = new Date(Date.now() + 3_600_000).toISOString();
  t.same((await api('GET', `/audit-events?since=${future}`)).body.items, [], 'since');
  t.equal((await api('GET', `/audit-events?until=${future}&type=user.created`)).body.items.length, 5, 'until');

  for (const [query, path] of [['type=user.exploded', 'type'], ['since=yesterday', 'since'], ['limit=0', 'limit'], ['cursor=abc', 'cursor'], ['colour=blue', 'colour']] as const) {
    const bad = await api('GET', `/audit-events?${query}`);
    t.equal(bad.status, 400, query);
    t.match(bad.headers.get('content-type'), /^application\/problem\+json/);
    t.equal(bad.body.errors[0].path, path);
  }
  const anonymous = await fetch(`${kh.origin}/api/v1/audit-events`);
  t.equal(anonymous.status, 401, 'only administrators read the trail');
});

t.test('events older than the retention are swept', async (t) => {
  const kh = await startTestApp(t);
  const audit = createAuditTrail(kh.db.pool, { retentionDays: 30 });
  t.teardown(() => audit.close());
  await audit.record(kh.db.pool, { type: 'user.created', actor: { kind: 'cli' }, outcome: 'success' });
  await audit.record(kh.db.pool, { type: 'user.deleted', actor: { kind: 'cli' }, outcome: 'success' });
  await kh.db.pool.query("UPDATE audit_events SET at = now() - interval '31 days' WHERE type = 'user.created'");
  t.equal(await audit.sweep(), 1);
  const { rows } = await kh.db.pool.query('SELECT type FROM audit_events');
  t.same(rows.map((r) => r.type), ['user.deleted']);
});
