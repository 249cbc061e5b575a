import t from 'tap';
import { migrate } from '../../src/db/migrate.ts';
import { createUsersRepo, UsernameTakenError } from '../../src/repos/users.ts';
import { createTestDatabase } from '../helpers/db.ts';

/**
 * Usernames are unique whatever their case in the database itself, not only in the code that checks
 * before inserting: the first migration made the index, and nothing since may drop it.
 */
t.test('the database refuses two usernames differing only by case', async (t) => {
  const db = await createTestDatabase(t, { empty: true });
  await migrate(db.pool);
  const { rows } = await db.pool.query<{ indexdef: string }>(
    "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'users' AND indexname = 'users_username_key'",
  );
  t.match(rows[0]?.indexdef, /^CREATE UNIQUE INDEX users_username_key ON public\.users USING btree \(lower\(username\)\)$/, 'a unique index on lower(username)');

  await db.pool.query("INSERT INTO users (username) VALUES ('alice')");
  await t.rejects(db.pool.query("INSERT INTO users (username) VALUES ('ALICE')"), { code: '23505' }, 'a second case of a name, written straight in SQL');
  await t.rejects(createUsersRepo(db.pool).create({ username: 'Alice' }), UsernameTakenError, 'through the repository, a UsernameTakenError (409 in the API)');
  await db.pool.query("INSERT INTO users (username) VALUES ('alice2')");
  t.equal((await db.pool.query('SELECT 1 FROM users')).rowCount, 2);
});
