import t from 'tap';
import { ensureAdmin } from '../../src/bootstrap.ts';
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
