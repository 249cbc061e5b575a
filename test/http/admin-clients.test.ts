import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { adminToken, apiFor, clientCredentials } from '../helpers/admin.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { refuseDeletes } from '../helpers/db.ts';
import { post } from '../helpers/flow.ts';

const YEAR = 365 * 24 * 3600 * 1000;

/** Client authentication probe: introspection answers 200 to any confidential client that authenticates, 401 otherwise. */
const authenticates = async (kh: TestApp, clientId: string, secret: string) =>
  (await post(`${kh.issuer}/token/introspection`, { token: 'not-a-token' }, { clientId, secret })).status;

t.test('a hybrid client: create, read, list, update, delete', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);

  const created = await api('POST', '/clients', { type: 'hybrid', name: 'Example app', redirectUris: ['https://app.example.com/callback'] });
  t.equal(created.status, 201);
  t.equal(created.headers.get('cache-control'), 'no-store', 'answers are never cached');
  const { client, secret } = created.body;
  t.equal(created.headers.get('location'), `/api/v1/clients/${client.id}`);
  t.match(client.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'the id is a UUID');
  t.same(Object.keys(client), ['id', 'type', 'name', 'enabled', 'redirectUris', 'postLogoutRedirectUris', 'allowRefreshToken', 'accessTokenLifetime', 'secrets', 'createdAt', 'updatedAt', 'version'], 'exactly the fields of a hybrid client');
  t.match(client, { type: 'hybrid', name: 'Example app', enabled: true, postLogoutRedirectUris: [], allowRefreshToken: false, accessTokenLifetime: 3600 }, 'defaults');
  t.equal(client.secrets.length, 1, 'a first secret');
  t.same(Object.keys(secret).sort(), ['createdAt', 'description', 'expiresAt', 'id', 'lastUsedAt', 'value']);
  t.equal(secret.id, client.secrets[0].id);
  t.notOk('value' in client.secrets[0], 'the client lists the secret without its value');
  t.match(secret.value, /^khs_[A-Za-z0-9_-]{43}$/, 'khs_ and 256 random bits (base64url) that scanners can recognise');
  t.ok(Math.abs(new Date(secret.expiresAt).getTime() - (Date.now() + YEAR)) < 60_000, 'the secret expires in a year by default');
  t.equal(secret.lastUsedAt, null);

  const { rows } = await kh.db.pool.query('SELECT secret_digest, legacy_hash FROM client_secrets WHERE id = $1', [secret.id]);
  t.equal(rows[0].secret_digest, createHash('sha256').update(secret.value).digest('base64url'), 'only a SHA-256 digest is stored');
  t.equal(rows[0].legacy_hash, null, 'no slow hash for a generated secret');

  t.equal(await authenticates(kh, client.id, secret.value), 200, 'the secret authenticates the client');
  t.equal(await authenticates(kh, client.id, `${secret.value}x`), 401, 'another value does not');

  // lastUsedAt is written off the request path: give it a moment.
  let read = await api('GET', `/clients/${client.id}`);
  for (let i = 0; i < 20 && read.body.secrets[0].lastUsedAt === null; i++) {
    await sleep(50);
    read = await api('GET', `/clients/${client.id}`);
  }
  t.equal(read.status, 200);
  t.same({ ...read.body, secrets: [] }, { ...client, secrets: [] });
  t.not(read.body.secrets[0].lastUsedAt, null, 'lastUsedAt is recorded');
  for (const path of [`/clients/${client.id}`, '/clients', `/clients/${client.id}/secrets`]) {
    t.notMatch((await api('GET', path)).text, secret.value, `GET ${path} never shows the secret again`);
  }

  const patched = await api('PATCH', `/clients/${client.id}`, { name: 'Renamed', allowRefreshToken: true, accessTokenLifetime: 300, postLogoutRedirectUris: ['https://app.example.com/bye'] });
  t.equal(patched.status, 200);
  t.match(patched.body, { name: 'Renamed', allowRefreshToken: true, accessTokenLifetime: 300, redirectUris: ['https://app.example.com/callback'], postLogoutRedirectUris: ['https://app.example.com/bye'], enabled: true });
  t.ok(patched.body.updatedAt > client.updatedAt, 'updatedAt moves');
  t.equal(patched.body.createdAt, client.createdAt);
  const empty = await api('PATCH', `/clients/${client.id}`, {});
  t.equal(empty.status, 200, 'an empty PATCH changes nothing');
  t.match(empty.body, { name: 'Renamed', accessTokenLifetime: 300 });

  t.equal((await api('GET', '/clients/00000000-0000-4000-8000-000000000000')).status, 404);
  const notUuid = await api('GET', '/clients/not-a-uuid');
  t.equal(notUuid.status, 404);
  t.match(notUuid.headers.get('content-type'), /^application\/problem\+json/);
  t.equal((await api('PATCH', '/clients/00000000-0000-4000-8000-000000000000', { name: 'x' })).status, 404);

  const deleted = await api('DELETE', `/clients/${client.id}`);
  t.equal(deleted.status, 204);
  t.equal(deleted.text, '');
  t.equal((await api('GET', `/clients/${client.id}`)).status, 404);
  t.equal((await api('DELETE', `/clients/${client.id}`)).status, 404, 'deleting twice: 404');
  t.equal(await authenticates(kh, client.id, secret.value), 401, 'a deleted client cannot authenticate');
  t.notMatch(kh.logs.text, secret.value, 'the secret never reaches the logs');
});

t.test('each type shows only its own fields', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);

  const machine = await api('POST', '/clients', { type: 'client-credentials', name: 'Worker', roles: ['admin'], accessTokenLifetime: 120, secret: { description: 'ci', neverExpires: true } });
  t.equal(machine.status, 201);
  t.same(Object.keys(machine.body.client), ['id', 'type', 'name', 'enabled', 'accessTokenLifetime', 'roles', 'secrets', 'createdAt', 'updatedAt', 'version']);
  t.match(machine.body.secret, { description: 'ci', expiresAt: null });
  const token = await clientCredentials(kh, machine.body.client.id, machine.body.secret.value);
  t.equal(token.status, 200, 'the first secret gets a token');
  t.equal(token.body.expires_in, 120, 'living the client’s accessTokenLifetime');

  const spa = await api('POST', '/clients', {
    type: 'authorization-code',
    name: 'SPA',
    redirectUris: ['https://spa.example.com/cb'],
    allowedCorsOrigins: ['https://spa.example.com'],
  });
  t.equal(spa.status, 201);
  t.same(Object.keys(spa.body), ['client'], 'an authorization-code client gets no secret');
  t.same(Object.keys(spa.body.client), ['id', 'type', 'name', 'enabled', 'redirectUris', 'postLogoutRedirectUris', 'accessTokenLifetime', 'allowedCorsOrigins', 'createdAt', 'updatedAt', 'version']);
  t.equal((await api('POST', `/clients/${spa.body.client.id}/secrets`, {})).status, 409, 'nor can it have one');

  const secretWithExpiry = new Date(Date.now() + 7 * 24 * 3600_000).toISOString();
  const native = await api('POST', '/clients', {
    type: 'hybrid',
    name: 'Desktop',
    redirectUris: ['http://127.0.0.1/callback', 'com.example.desktop:/callback'],
    secret: { description: 'first', expiresAt: secretWithExpiry },
  });
  t.equal(native.status, 201);
  t.equal(native.body.secret.expiresAt, secretWithExpiry, 'the secret expires when asked');

  const machines = await api('GET', '/clients?type=client-credentials');
  t.same(machines.body.items.map((c: { name: string }) => c.name), ['Automation', 'Worker'], 'list by type');
  t.equal((await api('PATCH', `/clients/${machine.body.client.id}`, { redirectUris: ['https://a.example.com/'] })).status, 400, 'type-specific fields cannot be patched onto another type');
});

t.test('list with cursor pagination', async (t) => {
  const kh = await startTestApp(t);
  const { api, clientId } = await adminToken(kh);
  const ids = [clientId];
  for (let i = 0; i < 6; i++) {
    const answer = await api('POST', '/clients', { type: 'authorization-code', name: `App ${i}`, redirectUris: [`https://app${i}.example.com/cb`] });
    ids.push(answer.body.client.id);
  }
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const answer: { status: number; body: { items: Array<{ id: string }>; nextCursor: string | null } } = await api('GET', `/clients?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(answer.status, 200);
    t.ok(answer.body.items.length <= 3);
    seen.push(...answer.body.items.map((c) => c.id));
    cursor = answer.body.nextCursor;
    pages++;
  } while (cursor && pages < 10);
  t.equal(pages, 3, '7 clients in pages of 3');
  t.same(seen, ids, 'every client once, oldest first');
  const typed = await api('GET', '/clients?type=authorization-code&limit=100');
  t.equal(typed.body.items.length, 6);
  t.equal(typed.body.nextCursor, null);
});

t.test('secrets: add with description and expiry, at most 10, delete; expired and deleted ones fail at once', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const { client, secret: first } = (await api('POST', '/clients', { type: 'client-credentials', name: 'Worker' })).body;
  const id = client.id;
  t.equal((await clientCredentials(kh, id, first.value, '')).status, 200, 'the first secret works');

  const forever = await api('POST', `/clients/${id}/secrets`, { description: 'never expires', neverExpires: true });
  t.equal(forever.status, 201);
  t.match(forever.body, { description: 'never expires', expiresAt: null, lastUsedAt: null, value: String });
  t.not(forever.body.value, first.value);
  const bodiless = await fetch(`${kh.origin}/api/v1/clients/${id}/secrets`, { method: 'POST', headers: { authorization: `Bearer ${(await adminToken(kh)).token}` } });
  t.equal(bodiless.status, 201, 'a POST without a body adds a secret with the defaults');
  const defaults = await bodiless.json();
  t.equal(defaults.description, '');
  t.ok(Math.abs(new Date(defaults.expiresAt).getTime() - (Date.now() + YEAR)) < 60_000);

  // Used once (and so cached as verified), then deleted: the very next request fails.
  t.equal((await clientCredentials(kh, id, forever.body.value, '')).status, 200);
  t.equal((await api('DELETE', `/clients/${id}/secrets/${forever.body.id}`)).status, 204);
  t.equal((await clientCredentials(kh, id, forever.body.value, '')).status, 401, 'a deleted secret fails on the next request');
  t.equal((await clientCredentials(kh, id, first.value, '')).status, 200, 'the others still work');
  t.equal((await api('DELETE', `/clients/${id}/secrets/${forever.body.id}`)).status, 404);
  t.equal((await api('DELETE', `/clients/${id}/secrets/nope`)).status, 404);

  const expiresAt = new Date(Date.now() + 2000).toISOString();
  const shortLived = await api('POST', `/clients/${id}/secrets`, { description: 'short', expiresAt });
  t.equal(shortLived.status, 201);
  t.equal(shortLived.body.expiresAt, expiresAt);
  t.equal((await clientCredentials(kh, id, shortLived.body.value, '')).status, 200, 'works before it expires');
  await sleep(new Date(expiresAt).getTime() - Date.now() + 100);
  t.equal((await clientCredentials(kh, id, shortLived.body.value, '')).status, 401, 'an expired secret fails on the next request');

  let listed = await api('GET', `/clients/${id}/secrets`);
  for (let i = 0; i < 20 && listed.body.find((s: { id: string }) => s.id === first.id).lastUsedAt === null; i++) {
    await sleep(50);
    listed = await api('GET', `/clients/${id}/secrets`);
  }
  t.equal(listed.status, 200);
  t.equal(listed.body.length, 3);
  t.not(listed.body.find((s: { id: string }) => s.id === first.id).lastUsedAt, null, 'lastUsedAt of a used secret');
  t.notMatch(listed.text, /"value"/, 'no values in the list');

  for (let i = listed.body.length; i < 10; i++) t.equal((await api('POST', `/clients/${id}/secrets`, { description: `s${i}` })).status, 201);
  const eleventh = await api('POST', `/clients/${id}/secrets`, { description: 'one too many' });
  t.equal(eleventh.status, 409, 'at most 10 secrets');
  t.match(eleventh.body, { status: 409, detail: /at most 10 secrets/ });
  t.equal((await api('GET', `/clients/${id}/secrets`)).body.length, 10);

  for (const body of [null, [], 'x', { value: 'chosen-by-me' }, { neverExpires: 'yes' }]) {
    t.equal((await api('POST', `/clients/${id}/secrets`, body)).status, 400, `secret body ${JSON.stringify(body)}: 400`);
  }
  const bad = await api('POST', `/clients/${id}/secrets`, { expiresAt: new Date(Date.now() - 1000).toISOString() });
  t.equal(bad.status, 400);
  t.match(bad.body.errors, [{ path: 'expiresAt', message: /in the future/ }]);
  t.equal((await api('GET', `/clients/00000000-0000-4000-8000-000000000000/secrets`)).status, 404);
  for (const value of [first.value, forever.body.value, shortLived.body.value]) t.notMatch(kh.logs.text, value, 'no secret in the logs');
});

t.test('disabling or deleting a client ends its tokens and its sign-ins at once', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const { client, secret } = (await api('POST', '/clients', { type: 'client-credentials', name: 'Robot', roles: ['admin'] })).body;
  const token = (await clientCredentials(kh, client.id, secret.value)).body.access_token as string;
  const robot = apiFor(kh, token);
  t.equal((await robot('GET', '/clients')).status, 200, 'the robot is an admin');

  t.equal((await api('PATCH', `/clients/${client.id}`, { enabled: false })).status, 200);
  t.equal((await robot('GET', '/clients')).status, 401, 'a disabled client’s token stops working');
  t.equal((await clientCredentials(kh, client.id, secret.value)).status, 401, 'a disabled client gets no tokens');
  t.equal((await api('PATCH', `/clients/${client.id}`, { enabled: true })).status, 200);
  const again = (await clientCredentials(kh, client.id, secret.value)).body.access_token as string;
  t.equal((await apiFor(kh, again)('GET', '/clients')).status, 200, 'enabled again, it gets tokens again');

  t.equal((await api('PATCH', `/clients/${client.id}`, { roles: [] })).status, 200);
  t.equal((await apiFor(kh, again)('GET', '/clients')).status, 403, 'without the role, the next request is forbidden');

  t.equal((await api('DELETE', `/clients/${client.id}`)).status, 204);
  const { rows } = await kh.db.pool.query('SELECT count(*)::int AS n FROM oidc_payloads WHERE client_id = $1', [client.id]);
  t.equal(rows[0].n, 0, 'every token of the deleted client is gone');
  t.equal((await apiFor(kh, again)('GET', '/clients')).status, 401);
});

t.test('a client is deleted together with its tokens, or not at all', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const { client, secret } = (await api('POST', '/clients', { type: 'client-credentials', name: 'Robot', roles: ['admin'] })).body;
  const robot = apiFor(kh, (await clientCredentials(kh, client.id, secret.value)).body.access_token as string);
  const rows = async () => (await kh.db.pool.query('SELECT count(*)::int AS n FROM oidc_payloads WHERE client_id = $1', [client.id])).rows[0].n;
  t.equal(await rows(), 1, 'its token');

  // The database refuses to remove its tokens: the client may not go without them.
  const allow = await refuseDeletes(kh.db.pool, 'oidc_payloads', `OLD.client_id = '${client.id}'`);
  const refused = await api('DELETE', `/clients/${client.id}`);
  t.equal(refused.status, 500);
  t.equal(refused.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  t.equal((await api('GET', `/clients/${client.id}`)).status, 200, 'the client is still there');
  t.equal(await rows(), 1, 'its token too');
  t.equal((await robot('GET', '/clients')).status, 200, 'and works');
  t.equal((await clientCredentials(kh, client.id, secret.value)).status, 200, 'as does its secret');

  await allow();
  t.equal((await api('DELETE', `/clients/${client.id}`)).status, 204);
  t.equal((await api('GET', `/clients/${client.id}`)).status, 404);
  t.equal(await rows(), 0, 'deleted with its tokens');
  t.equal((await robot('GET', '/clients')).status, 401);
});
