import t from 'tap';
import { adminToken, apiFor, consoleToken } from '../helpers/admin.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { refuseDeletes } from '../helpers/db.ts';
import { createUser } from '../helpers/fixtures.ts';
import { userinfo } from '../helpers/flow.ts';

t.test('users: create, list, read, update, delete', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const password = 'a long passphrase for alice';

  const created = await api('POST', '/users', { username: 'Alice', email: 'alice@example.com', name: 'Alice Example', password });
  t.equal(created.status, 201);
  const alice = created.body;
  t.equal(created.headers.get('location'), `/api/v1/users/${alice.id}`);
  t.same(Object.keys(alice), ['id', 'username', 'email', 'name', 'roles', 'disabled', 'lockedUntil', 'createdAt', 'version']);
  t.match(alice, { username: 'Alice', email: 'alice@example.com', name: 'Alice Example', roles: [], disabled: false });
  t.notMatch(created.text, password, 'the password is never shown');
  const { rows } = await kh.db.pool.query('SELECT password_hash FROM users WHERE id = $1', [alice.id]);
  t.match(rows[0].password_hash, /^\$argon2id\$/, 'stored as an argon2id hash');

  const signedIn = await consoleToken(kh, 'alice', password);
  t.ok(signedIn.token, 'the user signs in with that password (username case does not matter)');
  t.equal((await apiFor(kh, signedIn.token)('GET', '/users')).status, 403, 'not an admin');

  const dup = await api('POST', '/users', { username: 'ALICE', password: 'another password' });
  t.equal(dup.status, 409, 'usernames are unique whatever their case');
  t.match(dup.body, { type: 'https://keyhold.dev/problems/conflict', status: 409, detail: /already taken/ });

  const bob = (await api('POST', '/users', { username: 'bob' })).body;
  t.match(bob, { username: 'bob', email: null, name: null, roles: [], disabled: false }, 'only a username is needed');

  const list = await api('GET', '/users?limit=2');
  t.equal(list.status, 200);
  t.same(list.body.items.map((u: { username: string }) => u.username), ['Alice', 'bob']);
  t.equal(list.body.nextCursor, null);
  t.equal((await api('GET', '/users?limit=1')).body.items.length, 1);
  const second = await api('GET', `/users?limit=1&cursor=${(await api('GET', '/users?limit=1')).body.nextCursor}`);
  t.same(second.body.items.map((u: { username: string }) => u.username), ['bob'], 'the next page');
  t.same((await api('GET', `/users/${alice.id}`)).body, alice);
  t.equal((await api('GET', '/users/00000000-0000-4000-8000-000000000000')).status, 404);

  const patched = await api('PATCH', `/users/${alice.id}`, { name: 'Alice E.', email: null, roles: ['admin'] });
  t.equal(patched.status, 200);
  t.match(patched.body, { username: 'Alice', name: 'Alice E.', email: null, roles: ['admin'], disabled: false });
  t.equal((await apiFor(kh, signedIn.token)('GET', '/users')).status, 403, 'the old token has no admin scope');
  const asAdmin = await consoleToken(kh, 'Alice', password);
  t.equal((await apiFor(kh, asAdmin.token)('GET', '/users')).status, 200, 'signed in again, she is an admin');

  const newPassword = 'an even longer passphrase';
  t.equal((await api('PATCH', `/users/${alice.id}`, { password: newPassword })).status, 200);
  await t.rejects(consoleToken(kh, 'Alice', password), 'the old password no longer works');
  const withNew = await consoleToken(kh, 'Alice', newPassword);
  t.ok(withNew.token, 'the new one does');

  const last = await api('PATCH', `/users/${alice.id}`, { disabled: true });
  t.equal(last.status, 409, 'the last enabled administrator cannot be disabled');
  t.match(last.body.detail, /last enabled administrator/);
  t.equal((await api('DELETE', `/users/${alice.id}`)).status, 409, 'nor deleted');
  t.equal((await api('PATCH', `/users/${alice.id}`, { roles: [] })).status, 409, 'nor lose the admin role');
  t.equal((await api('GET', `/users/${alice.id}`)).body.disabled, false, 'nothing changed');
  t.equal((await api('PATCH', `/users/${bob.id}`, { roles: ['admin'] })).status, 200);

  t.equal((await api('PATCH', `/users/${alice.id}`, { disabled: true })).status, 200, 'with another administrator, she can be');
  t.equal((await userinfo(kh.issuer, withNew.token)).status, 401, 'a disabled user’s tokens stop working');
  t.equal((await api('PATCH', `/users/${alice.id}`, { disabled: false })).status, 200);

  t.equal((await api('DELETE', `/users/${alice.id}`)).status, 204);
  t.equal((await api('GET', `/users/${alice.id}`)).status, 404);
  t.equal((await api('DELETE', `/users/${alice.id}`)).status, 404);
  const { rows: left } = await kh.db.pool.query('SELECT count(*)::int AS n FROM oidc_payloads WHERE account_id = $1', [alice.id]);
  t.equal(left[0].n, 0, 'her sessions and tokens are gone');
  t.equal((await apiFor(kh, withNew.token)('GET', '/users')).status, 401);
  for (const secret of [password, newPassword]) t.notMatch(kh.logs.text, secret, 'passwords never reach the logs');
});

t.test('bad user bodies: 400 naming the field, nothing changes', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['username missing', { email: 'a@example.com' }, 'username', /./],
    ['empty username', { username: '' }, 'username', /1 to 64/],
    ['username with a space', { username: 'a b' }, 'username', /1 to 64/],
    ['65-character username', { username: 'u'.repeat(65) }, 'username', /1 to 64/],
    ['username not a string', { username: 42 }, 'username', /string/],
    ['short password', { username: 'carol', password: 'short' }, 'password', /at least 8/],
    ['password not a string', { username: 'carol', password: 12345678 }, 'password', /string/],
    ['bad email', { username: 'carol', email: 'not-an-email' }, 'email', /email/],
    ['blank name', { username: 'carol', name: '  ' }, 'name', /blank/],
    ['unknown role', { username: 'carol', roles: ['root'] }, 'roles.0', /"admin"/],
    ['roles not an array', { username: 'carol', roles: 'admin' }, 'roles', /array/],
    ['disabled "false"', { username: 'carol', disabled: 'false' }, 'disabled', /boolean/],
    ['unknown field', { username: 'carol', passwordHash: 'x' }, 'passwordHash', /Unrecognized key/],
    ['id', { username: 'carol', id: '00000000-0000-4000-8000-000000000000' }, 'id', /set by the server/],
  ];
  for (const [what, body, path, message] of cases) {
    const answer = await api('POST', '/users', body);
    t.equal(answer.status, 400, `${what}: 400`);
    t.match(answer.body.errors, [{ path, message }], `${what}: names ${path}`);
  }
  const bob = (await api('POST', '/users', { username: 'bob' })).body;
  const patch = await api('PATCH', `/users/${bob.id}`, { username: 'robert' });
  t.equal(patch.status, 400);
  t.match(patch.body.errors, [{ path: 'username', message: /cannot be changed/ }]);
  t.same((await api('GET', '/users')).body.items.map((u: { username: string }) => u.username), ['bob'], 'only bob was created');
  t.same((await api('GET', `/users/${bob.id}`)).body, bob, 'and he is unchanged');
});

/** The enabled users holding the admin role, as committed. */
async function enabledAdmins(kh: TestApp): Promise<string[]> {
  const { rows } = await kh.db.pool.query<{ id: string }>("SELECT id FROM users WHERE 'admin' = ANY (roles) AND NOT disabled ORDER BY id");
  return rows.map((r) => r.id);
}

t.test('the last-administrator rule holds when the last two are changed at the same moment', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const a = (await createUser(kh.users, { roles: ['admin'] })).user;
  const b = (await createUser(kh.users, { roles: ['admin'] })).user;
  const changes: Array<[string, unknown, unknown]> = [
    ['both disabled', { disabled: true }, { disabled: true }],
    ['both demoted', { roles: [] }, { roles: [] }],
    ['one disabled, one demoted', { disabled: true }, { roles: [] }],
    ['one demoted and disabled, one disabled', { roles: [], disabled: true }, { disabled: true }],
  ];
  for (let round = 0; round < 12; round++) {
    const [what, toA, toB] = changes[round % changes.length]!;
    const answers = await Promise.all([api('PATCH', `/users/${a.id}`, toA), api('PATCH', `/users/${b.id}`, toB)]);
    t.same(answers.map((r) => r.status).sort(), [200, 409], `${what} (round ${round + 1}): one succeeds, the other is refused`);
    const refused = answers.find((r) => r.status === 409);
    t.equal(refused?.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    t.match(refused?.body.detail, /last enabled administrator/);
    t.equal((await enabledAdmins(kh)).length, 1, 'one enabled administrator remains');
    for (const user of [a, b]) await kh.users.update(user.id, { roles: ['admin'], disabled: false });
  }
});

t.test('the last-administrator rule holds when the last two are deleted at the same moment', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  for (let round = 0; round < 10; round++) {
    // Exactly two enabled administrators before each round.
    await kh.db.pool.query("UPDATE users SET roles = '{}'");
    const a = (await createUser(kh.users, { roles: ['admin'] })).user;
    const b = (await createUser(kh.users, { roles: ['admin'] })).user;
    const deleteB = round % 2 === 0;
    const answers = await Promise.all([
      api('DELETE', `/users/${a.id}`),
      deleteB ? api('DELETE', `/users/${b.id}`) : api('PATCH', `/users/${b.id}`, { disabled: true }),
    ]);
    const succeeded = [204, deleteB ? 204 : 200];
    t.same(
      answers.map((r, i) => (r.status === succeeded[i] ? 'done' : r.status)).sort(),
      [409, 'done'],
      `${deleteB ? 'both deleted' : 'one deleted, one disabled'} (round ${round + 1}): one succeeds, the other is refused`,
    );
    const left = await enabledAdmins(kh);
    t.equal(left.length, 1, 'one enabled administrator remains');
    t.ok([a.id, b.id].includes(left[0]!), 'one of the two');
  }
});

t.test('a user is disabled or deleted together with the end of their tokens, or not at all', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const { user, username, password } = await createUser(kh.users);
  const { token } = await consoleToken(kh, username, password);
  const rows = async () => (await kh.db.pool.query('SELECT count(*)::int AS n FROM oidc_payloads WHERE account_id = $1', [user.id])).rows[0].n;
  const before = await rows();
  t.ok(before > 0, 'signed in: a session, a grant and tokens');

  // The database refuses to remove their tokens: neither change may happen without it.
  const allow = await refuseDeletes(kh.db.pool, 'oidc_payloads', `OLD.account_id = '${user.id}'`);
  const disable = await api('PATCH', `/users/${user.id}`, { disabled: true });
  t.equal(disable.status, 500);
  t.equal(disable.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  t.equal((await api('GET', `/users/${user.id}`)).body.disabled, false, 'the user is not disabled');
  t.equal((await api('DELETE', `/users/${user.id}`)).status, 500);
  t.equal((await api('GET', `/users/${user.id}`)).status, 200, 'nor deleted');
  t.equal(await rows(), before, 'and their tokens are all there');
  t.equal((await userinfo(kh.issuer, token)).status, 200, 'and work');

  await allow();
  t.equal((await api('DELETE', `/users/${user.id}`)).status, 204);
  t.equal((await api('GET', `/users/${user.id}`)).status, 404);
  t.equal(await rows(), 0, 'deleted with their tokens');
});
