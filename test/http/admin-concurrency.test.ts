import t, { type Test } from 'tap';
import { adminToken, type Api, type ApiAnswer } from '../helpers/admin.ts';
import { startTestApp } from '../helpers/app.ts';

/** Optimistic concurrency: every client and user answer carries its version as an ETag; If-Match makes a change conditional on it. */

const hybrid = { type: 'hybrid', name: 'App', redirectUris: ['https://app.example.com/cb'] };
const tag = (version: number) => `"${version}"`;
const ifMatch = (value: string) => ({ headers: { 'if-match': value } });

/** The 412 a stale change gets: the resource as GET answers it now, its tag, and nothing changed. */
async function refusedAsStale(t: Test, api: Api, path: string, answer: ApiAnswer, what: string) {
  const now = await api('GET', path);
  t.equal(answer.status, 412, `${what}: 412`);
  t.match(answer.headers.get('content-type'), /^application\/problem\+json/);
  t.match(answer.body, { type: 'https://keyhold.dev/problems/precondition-failed', title: 'Precondition failed', status: 412 });
  t.same(answer.body.current, now.body, `${what}: current is the resource as GET answers it`);
  t.equal(answer.headers.get('etag'), now.headers.get('etag'), `${what}: the current ETag`);
}

t.test('clients: ETag on every answer, If-Match on PATCH and DELETE', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);

  const created = await api('POST', '/clients', hybrid);
  const { client } = created.body;
  t.equal(client.version, 2, 'the first secret counts as a change');
  t.equal(created.headers.get('etag'), tag(client.version), 'POST: ETag');
  const path = `/clients/${client.id}`;
  const read = await api('GET', path);
  t.equal(read.headers.get('etag'), tag(client.version), 'GET: ETag');
  t.equal(read.body.version, client.version);
  t.equal((await api('GET', '/clients')).body.items.find((c: { id: string }) => c.id === client.id).version, client.version, 'list items carry it too');

  const renamed = await api('PATCH', path, { name: 'Renamed' }, ifMatch(tag(2)));
  t.equal(renamed.status, 200, 'the current tag: the change is made');
  t.equal(renamed.body.version, 3);
  t.equal(renamed.headers.get('etag'), tag(3), 'PATCH: ETag');

  const stale = await api('PATCH', path, { name: 'Lost update' }, ifMatch(tag(2)));
  await refusedAsStale(t, api, path, stale, 'a stale tag');
  t.equal(stale.body.detail, `client ${client.id} changed since version 2: it is at version 3 now; read it again and reapply your change`);
  t.equal(stale.body.current.name, 'Renamed', 'nothing changed');
  t.equal((await api('GET', path)).body.version, 3);

  t.equal((await api('PATCH', path, { name: 'Any' }, ifMatch('*'))).status, 200, '* matches');
  t.equal((await api('PATCH', path, { enabled: true }, ifMatch(`"1", ${tag(4)}, "9"`))).status, 200, 'a list matches when one tag does');
  await refusedAsStale(t, api, path, await api('PATCH', path, { name: 'Weak' }, ifMatch(`W/${tag(5)}`)), 'a weak tag');
  for (const malformed of ['5', '"5', 'W/', 'abc', '"5"x']) {
    const answer = await api('PATCH', path, { name: 'Malformed' }, ifMatch(malformed));
    t.equal(answer.status, 412, `If-Match: ${malformed}: 412`);
  }
  t.equal((await api('GET', path)).body.name, 'Any', 'no refused change was made');
  t.equal((await api('PATCH', path, { name: 'No header' })).status, 200, 'without If-Match: as before');

  // Secrets change the client: adding one answers the client's new tag; deleting one bumps it too.
  const before = (await api('GET', path)).body.version;
  const added = await api('POST', `${path}/secrets`, {});
  t.equal(added.status, 201);
  t.equal(added.headers.get('etag'), tag(before + 1), 'adding a secret: the client\'s new ETag');
  t.equal((await api('GET', path)).body.version, before + 1);
  t.equal((await api('DELETE', `${path}/secrets/${added.body.id}`)).status, 204);
  t.equal((await api('GET', path)).body.version, before + 2, 'deleting a secret bumps it too');
  await refusedAsStale(t, api, path, await api('PATCH', path, { name: 'x' }, ifMatch(tag(before))), 'a tag from before a secret changed');

  const missing = '00000000-0000-4000-8000-000000000000';
  t.equal((await api('PATCH', `/clients/${missing}`, { name: 'x' }, ifMatch('"1"'))).status, 404, 'a 404 stays a 404 with If-Match');
  t.equal((await api('DELETE', `/clients/${missing}`, undefined, ifMatch('*'))).status, 404);

  const current = (await api('GET', path)).body.version;
  await refusedAsStale(t, api, path, await api('DELETE', path, undefined, ifMatch(tag(current - 1))), 'DELETE with a stale tag');
  t.equal((await api('GET', path)).status, 200, 'the client is still there');
  t.equal((await api('DELETE', path, undefined, ifMatch(tag(current)))).status, 204, 'DELETE with the current tag');
  t.equal((await api('GET', path)).status, 404);
});

t.test('two changes with the same If-Match: one is made, the other is a 412', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  for (let round = 0; round < 5; round++) {
    const { client } = (await api('POST', '/clients', hybrid)).body;
    const path = `/clients/${client.id}`;
    const answers = await Promise.all(['A', 'B'].map((name) => api('PATCH', path, { name }, ifMatch(tag(client.version)))));
    t.same(answers.map((a) => a.status).sort(), [200, 412], `round ${round}: one 200, one 412`);
    const made = answers.find((a) => a.status === 200)!;
    const refused = answers.find((a) => a.status === 412)!;
    t.same(refused.body.current, made.body, 'the 412 shows the change that was made');
    t.equal((await api('GET', path)).body.version, client.version + 1, 'one change');

    const user = (await api('POST', '/users', { username: `user${round}` })).body;
    const userAnswers = await Promise.all([true, false].map((disabled) => api('PATCH', `/users/${user.id}`, { disabled }, ifMatch(tag(user.version)))));
    t.same(userAnswers.map((a) => a.status).sort(), [200, 412], `users, round ${round}: one 200, one 412`);
  }
});

t.test('users: ETag on every answer, If-Match on PATCH and DELETE', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);

  // Another administrator, so carol may lose the role and be disabled.
  t.equal((await api('POST', '/users', { username: 'root', roles: ['admin'] })).status, 201);
  const created = await api('POST', '/users', { username: 'carol', email: 'carol@example.com' });
  const user = created.body;
  t.equal(user.version, 1);
  t.equal(created.headers.get('etag'), tag(1), 'POST: ETag');
  const path = `/users/${user.id}`;
  t.equal((await api('GET', path)).headers.get('etag'), tag(1), 'GET: ETag');
  t.equal((await api('GET', '/users')).body.items.find((u: { id: string }) => u.id === user.id).version, 1, 'list items carry it too');

  let version = 1;
  for (const change of [{ email: 'c@example.com' }, { name: 'Carol' }, { roles: ['admin'] }, { roles: [] }, { disabled: true }, { password: 'a long passphrase' }]) {
    const answer = await api('PATCH', path, change, ifMatch(tag(version)));
    t.equal(answer.status, 200, `${Object.keys(change)[0]}: 200`);
    version += 1;
    t.equal(answer.body.version, version, `${Object.keys(change)[0]} bumps the version`);
    t.equal(answer.headers.get('etag'), tag(version));
  }

  const stale = await api('PATCH', path, { name: 'Lost' }, ifMatch(tag(1)));
  await refusedAsStale(t, api, path, stale, 'a stale tag');
  t.equal(stale.body.detail, `user ${user.id} changed since version 1: it is at version ${version} now; read it again and reapply your change`);
  t.equal(stale.body.current.name, 'Carol', 'nothing changed');
  t.equal(stale.body.current.lockedUntil, null, 'current is as GET answers it');
  await refusedAsStale(t, api, path, await api('PATCH', path, { name: 'Weak' }, ifMatch(`W/${tag(version)}`)), 'a weak tag');
  t.equal((await api('PATCH', path, { name: 'Star' }, ifMatch('*'))).status, 200, '* matches');
  version += 1;

  t.equal((await api('PATCH', '/users/00000000-0000-4000-8000-000000000000', { name: 'x' }, ifMatch('"1"'))).status, 404, 'a 404 stays a 404');
  await refusedAsStale(t, api, path, await api('DELETE', path, undefined, ifMatch(tag(version - 1))), 'DELETE with a stale tag');
  t.equal((await api('GET', path)).status, 200, 'the user is still there');
  t.equal((await api('DELETE', path, undefined, ifMatch(tag(version)))).status, 204);
  t.equal((await api('GET', path)).status, 404);
});
