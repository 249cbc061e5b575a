import type { Pool } from '../../src/db/pool.ts';
import { SWEEPABLE } from '../../src/repos/provider-models.ts';

/**
 * Set-based seeding straight into Keyhold's tables (migrations/*.sql): one statement per batch, so
 * 100,000 clients or 1,000,000 provider rows take seconds, not the hours one-by-one inserts would.
 */

/** SHA-256, base64url without padding: the shape of what Keyhold stores for bearer values. */
const DIGEST = (expression: string) => `rtrim(translate(encode(sha256(convert_to(${expression}, 'UTF8')), 'base64'), '+/', '-_'), '=')`;

export const SEEDED_CLIENT_PREFIX = 'Seeded app ';

/** How many seeded clients exist (the bench's own clients are not counted). */
export async function seededClients(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM clients WHERE name LIKE $1', [`${SEEDED_CLIENT_PREFIX}%`]);
  return rows[0]?.n ?? 0;
}

/**
 * Tops the seeded clients up to `total`: the three types in turn, older than the bench's own clients
 * (so they fill the admin API's first page), one secret each for the types that hold secrets.
 */
export async function seedClients(pool: Pool, total: number): Promise<number> {
  const have = await seededClients(pool);
  if (have >= total) return 0;
  await pool.query(
    `WITH added AS (
       INSERT INTO clients (type, name, redirect_uris, post_logout_redirect_uris, allow_refresh_token, created_at, updated_at)
       SELECT (ARRAY['hybrid', 'authorization-code', 'client-credentials'])[1 + g % 3],
              '${SEEDED_CLIENT_PREFIX}' || g,
              CASE WHEN g % 3 = 2 THEN '{}'::text[] ELSE ARRAY['https://app' || g || '.example.com/callback'] END,
              CASE WHEN g % 3 = 2 THEN '{}'::text[] ELSE ARRAY['https://app' || g || '.example.com/'] END,
              g % 3 = 0,
              now() - interval '30 days' + g * interval '10 ms',
              now() - interval '30 days' + g * interval '10 ms'
       FROM generate_series($1::int, $2::int) AS g
       RETURNING id, type
     )
     INSERT INTO client_secrets (client_id, description, secret_digest, expires_at)
     SELECT id, 'seeded', ${DIGEST("'bench-seed-secret:' || id::text")}, now() + interval '1 year'
     FROM added WHERE type <> 'authorization-code'`,
    [have + 1, total],
  );
  return total - have;
}

/** Provider rows as Keyhold writes them, by kind: tokens, grants and sessions, half of them expired. */
export async function seedProviderRows(pool: Pool, total: number, batch = 250_000): Promise<void> {
  const batches: Array<[number, number]> = [];
  for (let from = 1; from <= total; from += batch) batches.push([from, Math.min(total, from + batch - 1)]);
  // Two batches at a time: one per core.
  for (let i = 0; i < batches.length; i += 2) {
    await Promise.all(batches.slice(i, i + 2).map(([from, to]) => seedProviderBatch(pool, from, to)));
  }
}

async function seedProviderBatch(pool: Pool, from: number, to: number): Promise<void> {
  await pool.query(
    // Clients are numbered and joined by number (an array of 100,000 ids indexed per row would be
    // detoasted for every row).
    `WITH c AS MATERIALIZED (SELECT id::text AS id, row_number() OVER (ORDER BY id) - 1 AS n FROM clients),
     k AS (SELECT count(*) AS total FROM c),
     s AS (
       SELECT g,
              (ARRAY['AccessToken', 'AccessToken', 'AccessToken', 'AccessToken', 'RefreshToken', 'RefreshToken',
                     'Grant', 'Grant', 'Session', 'AuthorizationCode'])[1 + g % 10] AS model,
              ${DIGEST("'bench-seed-row:' || g")} AS id,
              ${DIGEST("'bench-seed-grant:' || (g / 4)")} AS grant_id,
              md5('bench-seed-account:' || (g % 50000))::uuid::text AS account_id,
              c.id AS client_id,
              extract(epoch FROM now())::bigint AS now_s,
              -- Even rows expired up to a day ago, odd rows live for up to a day more.
              CASE WHEN g % 2 = 0 THEN -60 - g % 86400 ELSE 3600 + g % 86400 END AS ttl
       FROM generate_series($1::int, $2::int) AS g
       CROSS JOIN k
       JOIN c ON c.n = g % k.total
     )
     INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, account_id, client_id, expires_at)
     SELECT model, id,
            CASE model
              WHEN 'Session' THEN jsonb_build_object('kind', model, 'uid', md5(id), 'accountId', account_id, 'loginTs', now_s - 600,
                'iat', now_s - 600, 'exp', now_s + ttl, 'authorizations', jsonb_build_object(client_id, jsonb_build_object('sid', md5(grant_id), 'grantId', grant_id)))
              WHEN 'Grant' THEN jsonb_build_object('kind', model, 'accountId', account_id, 'clientId', client_id,
                'openid', jsonb_build_object('scope', 'openid profile email offline_access'), 'iat', now_s - 600, 'exp', now_s + ttl)
              ELSE jsonb_build_object('kind', model, 'clientId', client_id, 'accountId', account_id, 'grantId', grant_id,
                'gty', 'authorization_code', 'scope', 'openid profile email offline_access', 'authTime', now_s - 600,
                'iat', now_s - 600, 'exp', now_s + ttl, 'expiresWithSession', false)
            END,
            CASE WHEN model = 'Grant' THEN id ELSE grant_id END,
            CASE WHEN model = 'Session' THEN md5(id) END,
            account_id,
            CASE WHEN model = 'Session' THEN NULL ELSE client_id END,
            to_timestamp(now_s + ttl)
     FROM s`,
    [from, to],
  );
}

/** Rows the sweeper has still to remove (expired codes and refresh tokens are kept a while first). */
export async function expiredRows(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM oidc_payloads WHERE ${SWEEPABLE}`);
  return rows[0]?.n ?? 0;
}
