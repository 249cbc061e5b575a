import t from 'tap';
import { ensureAdmin } from '../../src/bootstrap.ts';
import { createPool } from '../../src/db/pool.ts';
import { verifySecret } from '../../src/passwords.ts';
import { createUsersRepo } from '../../src/repos/users.ts';
import { createTestDatabase } from '../helpers/db.ts';

t.test('the first administrator', async (t) => {
  const db = await createTestDatabase(t);
  const users = createUsersRepo(db.pool);

  const first = await ensureAdmin(users, { username: 'admin', password: undefined });
  t.equal(first.created, true);
  t.ok(first.generatedPassword && first.generatedPassword.length >= 20, 'a long password is generated');
  const stored = await users.findCredentials('admin');
  t.same(stored?.user.roles, ['admin']);
  t.ok(await verifySecret(stored!.passwordHash!, first.generatedPassword!), 'only its argon2id hash is stored');
  t.match(stored!.passwordHash!, /^\$argon2id\$/);

  t.same(await ensureAdmin(users, { username: 'admin', password: undefined }), { created: false }, 'created once only');
  t.same(await ensureAdmin(users, { username: 'other', password: 'a-configured-password' }), { created: false });

  // Every administrator disabled: the next start with ADMIN_PASSWORD is the way back in.
  await users.update(stored!.user.id, { disabled: true });
  const again = await ensureAdmin(users, { username: 'admin', password: 'a-configured-password' });
  t.same(again, { created: true }, 'no password printed when one is configured');
  const restored = await users.findCredentials('admin');
  t.equal(restored?.user.disabled, false, 're-enabled');
  t.ok(await verifySecret(restored!.passwordHash!, 'a-configured-password'));
});

t.test('instances starting together on an empty database: exactly one creates the administrator', async (t) => {
  const db = await createTestDatabase(t);
  // One pool per instance, as separate processes would have.
  const pools = [db.pool, ...[1, 2].map(() => createPool({ connectionString: db.url, max: 2 }))];
  t.teardown(() => Promise.all(pools.slice(1).map((p) => p.end())));
  for (let round = 1; round <= 5; round++) {
    await db.pool.query('DELETE FROM users');
    const outcomes = await Promise.allSettled(pools.map((pool) => ensureAdmin(createUsersRepo(pool), { username: 'admin', password: undefined })));
    t.same(outcomes.filter((o) => o.status === 'rejected').map((o) => String(o.reason)), [], `round ${round}: no instance fails`);
    const results = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const created = results.filter((r) => r.created);
    t.equal(created.length, 1, 'one creates the administrator');
    t.same(results.filter((r) => !r.created), [{ created: false }, { created: false }], 'the others find it there and go on');
    t.equal(results.filter((r) => r.generatedPassword).length, 1, 'exactly one password is generated (and printed)');
    const { rows } = await db.pool.query<{ username: string; roles: string[]; password_hash: string }>('SELECT username, roles, password_hash FROM users');
    t.same(rows.map((r) => [r.username, r.roles]), [['admin', ['admin']]], 'exactly one user');
    t.ok(await verifySecret(rows[0]!.password_hash, created[0]!.generatedPassword!), 'with the password that was printed');
  }
});

t.test('the first administrator: the name trimmed, the password hashed in NFC', async (t) => {
  const db = await createTestDatabase(t);
  const users = createUsersRepo(db.pool);
  const nfd = 'se\u0301same ouvre-toi';
  t.same(await ensureAdmin(users, { username: ' Root ', password: nfd }), { created: true });
  const stored = await users.findCredentials('root');
  t.equal(stored?.user.username, 'Root', 'stored trimmed, its case kept');
  t.ok(await verifySecret(stored!.passwordHash!, nfd.normalize('NFC')), 'the hash is of the NFC form');

  // A user of that name in another case is promoted, not created beside it.
  await users.update(stored!.user.id, { disabled: true });
  t.same(await ensureAdmin(users, { username: 'ROOT', password: 'another-configured-password' }), { created: true });
  const { rows } = await db.pool.query<{ username: string; disabled: boolean }>('SELECT username, disabled FROM users');
  t.same(rows, [{ username: 'Root', disabled: false }]);
});
