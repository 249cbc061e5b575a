import t from 'tap';
import { createTestDatabase } from '../helpers/db.ts';

/** The admin API's pages come in index order: no sort of the whole table per page, however many rows. */
t.test('client and user pages are read in index order', async (t) => {
  const db = await createTestDatabase(t);
  await db.pool.query(
    `INSERT INTO clients (type, name) SELECT 'client-credentials', 'c' || g FROM generate_series(1, 2000) g`,
  );
  await db.pool.query('ANALYZE clients');
  const plans = {
    'first page of clients': ['SELECT id FROM clients ORDER BY created_at, id LIMIT 50', []],
    'a later page of clients': ['SELECT id FROM clients WHERE (created_at, id) > ($1::timestamptz, $2::uuid) ORDER BY created_at, id LIMIT 50', [new Date(0), '00000000-0000-0000-0000-000000000000']],
    'a page of one type': [`SELECT id FROM clients WHERE type = 'hybrid' ORDER BY created_at, id LIMIT 50`, []],
    'first page of users': ['SELECT id FROM users ORDER BY created_at, id LIMIT 50', []],
  } as const;
  for (const [what, [sql, params]] of Object.entries(plans)) {
    const { rows } = await db.pool.query(`EXPLAIN ${sql}`, [...params]);
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    t.match(plan, /Index/, `${what}: read through an index`);
    t.notMatch(plan, /\bSort\b/, `${what}: no sort`);
  }
  const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM clients WHERE created_at <> date_trunc('milliseconds', created_at)");
  t.equal(rows[0]!.n, 0, 'created_at is kept at the millisecond a cursor holds');
});
