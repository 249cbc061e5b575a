import type { Pool } from '../db/pool.ts';

export interface StoredModel {
  payload: Record<string, unknown>;
  consumed: boolean;
}

/**
 * SQL for oidc-provider's model instances. One table holds them all, keyed by (model, id), with the
 * fields the provider looks things up by (grant id, uid, user code) in indexed columns.
 */
export function createProviderModelsRepo(pool: Pool) {
  const row = (r: { payload: Record<string, unknown>; consumed: boolean }): StoredModel => ({
    payload: r.payload,
    consumed: r.consumed,
  });

  return {
    async upsert(model: string, id: string, payload: Record<string, unknown>, expiresIn: number | undefined) {
      await pool.query(
        `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, account_id, client_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9::int IS NULL THEN NULL ELSE now() + make_interval(secs => $9::int) END)
         ON CONFLICT (model, id) DO UPDATE SET
           payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, uid = EXCLUDED.uid,
           user_code = EXCLUDED.user_code, account_id = EXCLUDED.account_id,
           client_id = EXCLUDED.client_id, expires_at = EXCLUDED.expires_at`,
        [
          model,
          id,
          payload,
          stringOrNull(payload.grantId),
          stringOrNull(payload.uid),
          stringOrNull(payload.userCode),
          stringOrNull(payload.accountId),
          stringOrNull(payload.clientId),
          expiresIn && expiresIn > 0 ? Math.ceil(expiresIn) : null,
        ],
      );
    },

    async find(model: string, id: string): Promise<StoredModel | undefined> {
      const { rows } = await pool.query(
        `SELECT payload, consumed_at IS NOT NULL AS consumed FROM oidc_payloads
         WHERE model = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > now())`,
        [model, id],
      );
      return rows[0] ? row(rows[0]) : undefined;
    },

    async findByUid(model: string, uid: string): Promise<(StoredModel & { id: string }) | undefined> {
      const { rows } = await pool.query(
        `SELECT id, payload, consumed_at IS NOT NULL AS consumed FROM oidc_payloads
         WHERE model = $1 AND uid = $2 AND (expires_at IS NULL OR expires_at > now())`,
        [model, uid],
      );
      return rows[0] ? { id: rows[0].id, ...row(rows[0]) } : undefined;
    },

    async findByUserCode(model: string, userCode: string): Promise<(StoredModel & { id: string }) | undefined> {
      const { rows } = await pool.query(
        `SELECT id, payload, consumed_at IS NOT NULL AS consumed FROM oidc_payloads
         WHERE model = $1 AND user_code = $2 AND (expires_at IS NULL OR expires_at > now())`,
        [model, userCode],
      );
      return rows[0] ? { id: rows[0].id, ...row(rows[0]) } : undefined;
    },

    /**
     * Marks an instance consumed. Returns false when it was already consumed (or is gone): the
     * UPDATE's row count makes exactly one of any number of concurrent callers the winner.
     */
    async consume(model: string, id: string): Promise<{ won: boolean; grantId: string | undefined }> {
      const { rows } = await pool.query(
        `WITH target AS (
           SELECT grant_id FROM oidc_payloads WHERE model = $1 AND id = $2
         ), updated AS (
           UPDATE oidc_payloads SET consumed_at = now()
           WHERE model = $1 AND id = $2 AND consumed_at IS NULL
           RETURNING 1
         )
         SELECT (SELECT grant_id FROM target) AS grant_id, EXISTS (SELECT 1 FROM updated) AS won`,
        [model, id],
      );
      return { won: rows[0].won === true, grantId: rows[0].grant_id ?? undefined };
    },

    async destroy(model: string, id: string): Promise<void> {
      await pool.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [model, id]);
    },

    /** Removes the instances of one model that stem from a grant (oidc-provider's revokeByGrantId). */
    async revokeByGrantId(model: string, grantId: string): Promise<void> {
      await pool.query('DELETE FROM oidc_payloads WHERE model = $1 AND grant_id = $2', [model, grantId]);
    },

    /** Removes a grant and everything (codes, tokens) that stems from it. */
    async revokeGrant(grantId: string): Promise<void> {
      await pool.query("DELETE FROM oidc_payloads WHERE grant_id = $1 OR (model = 'Grant' AND id = $1)", [grantId]);
    },

    /** Removes every instance (sessions, grants, tokens) of an account, e.g. when the user is deleted. */
    async revokeByAccountId(accountId: string): Promise<void> {
      await pool.query(
        `DELETE FROM oidc_payloads WHERE account_id = $1
            OR grant_id IN (SELECT id FROM oidc_payloads WHERE model = 'Grant' AND account_id = $1)`,
        [accountId],
      );
    },

    /** Removes every instance issued to a client (tokens, codes, grants). */
    async revokeByClientId(clientId: string): Promise<void> {
      await pool.query('DELETE FROM oidc_payloads WHERE client_id = $1', [clientId]);
    },

    /** Deletes up to `batch` expired rows; returns how many went. */
    async deleteExpired(batch = 1000): Promise<number> {
      const { rowCount } = await pool.query(
        `DELETE FROM oidc_payloads WHERE (model, id) IN (
           SELECT model, id FROM oidc_payloads WHERE expires_at < now() LIMIT $1
         )`,
        [batch],
      );
      return rowCount ?? 0;
    },
  };
}

export type ProviderModelsRepo = ReturnType<typeof createProviderModelsRepo>;

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}
