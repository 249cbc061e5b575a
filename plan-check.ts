import { startEmbeddedPostgres } from './src/db/embedded.ts';
import { migrate } from './src/db/migrate.ts';
import { createPool } from './src/db/pool.ts';
const db = await startEmbeddedPostgres('/tmp/plan');
const pool = createPool({ connectionString: db.url });
await migrate(pool);
await pool.query(`INSERT INTO oidc_payloads (model, id, payload, grant_id, client_id, expires_at)
  SELECT 'AuthorizationCode', 'k' || g, '{"a":1}', 'g' || g, 'c', now() + interval '1 hour' FROM generate_series(1, 100000) g`);
const sqls = [
 [`EXPLAIN WITH wanted AS (SELECT * FROM unnest($1::text[], $2::text[]) AS w(model, id)), updated AS (UPDATE oidc_payloads p SET consumed_at = now() FROM wanted w WHERE p.id = w.id AND p.model = w.model AND p.consumed_at IS NULL RETURNING p.id) SELECT p.id, p.grant_id, p.id IN (SELECT id FROM updated) AS won FROM oidc_payloads p JOIN wanted w ON p.id = w.id AND p.model = w.model`, [['AuthorizationCode'], ['k5']]],
 [`EXPLAIN SELECT p.id, (SELECT json_build_object('id', g.id) FROM oidc_payloads g WHERE p.model <> 'Grant' AND g.grant_id = p.grant_id AND g.model = 'Grant' LIMIT 1) AS grant FROM oidc_payloads p WHERE p.id = ANY ($1::text[])`, [['k5','k6']]],
];
for (const [sql, params] of sqls) {
  const { rows } = await pool.query(sql as string, params as unknown[]);
  console.log(rows.map((r) => r['QUERY PLAN']).join('\n'), '\n---');
}
await pool.end(); await db.stop();
