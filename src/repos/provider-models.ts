import { createBatcher } from '../db/batcher.ts';
import type { Pool, Queryable } from '../db/pool.ts';
import { USER_JSON_COLUMNS, userFromJson, type User } from './users.ts';

export interface StoredModel {
  model: string;
  payload: Record<string, unknown>;
  consumed: boolean;
  /** The current version of the row's client (read in the same query), or null when there is none. */
  clientVersion: number | null;
}

/** A row as `find` answers it: with its grant's row and its user, read in the same statement. */
export interface FoundModel extends StoredModel {
  grant?: { key: string; row: StoredModel };
  user?: User;
}

/** A client version a write is conditional on: the row is stored only while the client is at it. */
export interface ExpectedClient {
  clientId: string;
  version: number;
}

/**
 * How long the sweep keeps an expired authorization code or refresh token: while its row is there, the
 * token endpoint answers "expired" rather than "unknown" (oidc/grant-errors.ts). An expired row redeems
 * nothing (the adapter never hands one to the engine), and holds a digest, never the value.
 */
export const EXPIRED_KEPT = { AuthorizationCode: '15 minutes', RefreshToken: '1 day' } as const;

/** The rows the sweep deletes: expired, and past the time kept for their kind. */
export const SWEEPABLE = `expires_at < now()
  AND expires_at < now() - CASE model
    WHEN 'AuthorizationCode' THEN interval '${EXPIRED_KEPT.AuthorizationCode}'
    WHEN 'RefreshToken' THEN interval '${EXPIRED_KEPT.RefreshToken}'
    ELSE interval '0' END`;

// The row's client, joined by primary key; client_id also holds non-UUID ids (the console's own client).
const CLIENT_VERSION = `(SELECT c.version FROM clients c
   WHERE p.client_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' AND c.id = p.client_id::uuid)`;

interface Row {
  id: string;
  model: string;
  payload: Record<string, unknown>;
  consumed: boolean;
  client_version: string | null;
}
const toStored = (r: Row): StoredModel => ({
  model: r.model,
  payload: r.payload,
  consumed: r.consumed,
  clientVersion: r.client_version === null ? null : Number(r.client_version),
});

/** What a row is filed under, besides its key: the columns the provider and Keyhold look things up by. */
export interface ModelRefs {
  /** The grant it stems from (a grant's own id for a Grant row). Not a bearer value. */
  grantId: string | null;
  /** Digest of the uid (sessions, interactions). */
  uidDigest: string | null;
  /** Digest of the user code (device flow). */
  userCodeDigest: string | null;
  accountId: string | null;
  clientId: string | null;
}

/**
 * SQL for oidc-provider's model instances. One table holds them all, keyed by the digest of their id
 * (ids are unique across models, so a lookup needs no model), with the fields the provider and Keyhold
 * look things up by in indexed columns. Callers pass digests, never the bearer values themselves.
 */
interface Upsert {
  model: string;
  key: string;
  payload: Record<string, unknown>;
  refs: ModelRefs;
  expiresIn: number | undefined;
  expect: ExpectedClient | undefined;
}

export function createProviderModelsRepo(pool: Pool) {
  // Codes, tokens and sessions are written and read on every request of the token path; under load
  // they go to Postgres many rows to a statement (see db/batcher.ts), each caller answered after commit.
  // Named statements: each connection parses and plans them once.
  const upsertBatch = createBatcher<Upsert, boolean>(
    async (items) => {
      const { rows } = await pool.query<{ id: string }>({
        name: 'keyhold-models-upsert',
        text: `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, account_id, client_id, expires_at)
         SELECT u.model, u.id, u.payload::jsonb, u.grant_id, u.uid, u.user_code, u.account_id, u.client_id,
                CASE WHEN u.ttl IS NULL THEN NULL ELSE now() + make_interval(secs => u.ttl) END
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::uuid[], $11::bigint[])
           AS u(model, id, payload, grant_id, uid, user_code, account_id, client_id, ttl, expect_client, expect_version)
         WHERE u.expect_client IS NULL
            OR EXISTS (SELECT 1 FROM clients c WHERE c.id = u.expect_client AND c.version = u.expect_version)
         ON CONFLICT (id) DO UPDATE SET
           payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, uid = EXCLUDED.uid,
           user_code = EXCLUDED.user_code, account_id = EXCLUDED.account_id,
           client_id = EXCLUDED.client_id, expires_at = EXCLUDED.expires_at
         WHERE oidc_payloads.model = EXCLUDED.model
         RETURNING id`,
        values: [
          items.map((i) => i.model),
          items.map((i) => i.key),
          items.map((i) => JSON.stringify(i.payload)),
          items.map((i) => i.refs.grantId),
          items.map((i) => i.refs.uidDigest),
          items.map((i) => i.refs.userCodeDigest),
          items.map((i) => i.refs.accountId),
          items.map((i) => i.refs.clientId),
          items.map((i) => (i.expiresIn && i.expiresIn > 0 ? Math.ceil(i.expiresIn) : null)),
          items.map((i) => i.expect?.clientId ?? null),
          items.map((i) => i.expect?.version ?? null),
        ],
      });
      const stored = new Set(rows.map((r) => r.id));
      return items.map((i) => stored.has(i.key) || i.expect === undefined);
    },
    { keyOf: (item) => item.key },
  );

  // A token or code is looked up by the engine and then, a step later, its grant and its user: all
  // three come back from this one statement. The grant by its key (primary key), not by grant_id: a
  // long-lived grant gathers a row for every token it gave.
  const findBatch = createBatcher<string, FoundModel | undefined>(async (keys) => {
    const { rows } = await pool.query<Row & { grant: (Row & { id: string }) | null; account: Parameters<typeof userFromJson>[0] | null }>({
      name: 'keyhold-models-find',
      text: `SELECT p.id, p.model, p.payload, p.consumed_at IS NOT NULL AS consumed, ${CLIENT_VERSION} AS client_version,
         (SELECT json_build_object('id', g.id, 'model', g.model, 'payload', g.payload,
                   'consumed', g.consumed_at IS NOT NULL, 'client_version', ${CLIENT_VERSION.replaceAll('p.', 'g.')})
            FROM oidc_payloads g
           WHERE p.model <> 'Grant' AND g.id = keyhold_digest(p.grant_id) AND g.model = 'Grant'
             AND (g.expires_at IS NULL OR g.expires_at > now())
           LIMIT 1) AS grant,
         (SELECT row_to_json(u) FROM (SELECT ${USER_JSON_COLUMNS} FROM users
           WHERE p.account_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
             AND id = p.account_id::uuid) u) AS account
       FROM oidc_payloads p WHERE p.id = ANY ($1::text[]) AND (p.expires_at IS NULL OR p.expires_at > now())`,
      values: [keys],
    });
    const byKey = new Map(
      rows.map((r): [string, FoundModel] => [
        r.id,
        {
          ...toStored(r),
          ...(r.grant ? { grant: { key: r.grant.id, row: toStored(r.grant) } } : {}),
          ...(r.account ? { user: userFromJson(r.account) } : {}),
        },
      ]),
    );
    return keys.map((key) => byKey.get(key));
  });

  // Single use: the conditional UPDATE marks each row once; of concurrent consumers of one row (never
  // in the same statement: keyOf) exactly one sees it updated, the rest see it already consumed.
  const consumeBatch = createBatcher<{ model: string; key: string }, { won: boolean; grantId: string | undefined }>(
    async (items) => {
      const { rows } = await pool.query<{ id: string; grant_id: string | null; won: boolean }>({
        name: 'keyhold-models-consume',
        text: `WITH wanted AS (
           SELECT * FROM unnest($1::text[], $2::text[]) AS w(model, id)
         ), updated AS (
           UPDATE oidc_payloads p SET consumed_at = now() FROM wanted w
           WHERE p.id = w.id AND p.model = w.model AND p.consumed_at IS NULL
           RETURNING p.id
         )
         SELECT p.id, p.grant_id, p.id IN (SELECT id FROM updated) AS won
         FROM oidc_payloads p JOIN wanted w ON p.id = w.id AND p.model = w.model`,
        values: [items.map((i) => i.model), items.map((i) => i.key)],
      });
      const byKey = new Map(rows.map((r) => [r.id, r]));
      return items.map((i) => {
        const row = byKey.get(i.key);
        return { won: row?.won === true, grantId: row?.grant_id ?? undefined };
      });
    },
    { keyOf: (item) => item.key },
  );

  /** A live row of `model` by an indexed column other than its key (a uid or user code digest). */
  async function findBy(column: 'uid' | 'user_code', model: string, value: string): Promise<StoredModel | undefined> {
    const { rows } = await pool.query<Row>(
      `SELECT p.id, p.model, p.payload, p.consumed_at IS NOT NULL AS consumed, ${CLIENT_VERSION} AS client_version
       FROM oidc_payloads p WHERE p.model = $1 AND p.${column} = $2 AND (p.expires_at IS NULL OR p.expires_at > now())`,
      [model, value],
    );
    return rows[0] ? toStored(rows[0]) : undefined;
  }

  return {
    /**
     * Stores a row. With `expect`, only while that client is still at that version (checked in the same
     * statement): false means it changed, and nothing was stored.
     */
    /**
     * Stores a row. With `expect`, only while that client is still at that version (checked in the same
     * statement): false means it changed, and nothing was stored.
     */
    upsert(model: string, key: string, payload: Record<string, unknown>, refs: ModelRefs, expiresIn: number | undefined, expect?: ExpectedClient): Promise<boolean> {
      return upsertBatch({ model, key, payload, refs, expiresIn, expect });
    },

    /** The live row under `key`, whatever its model, with its live grant and its user. */
    find(key: string): Promise<FoundModel | undefined> {
      return findBatch(key);
    },

    findByUid(model: string, uidDigest: string): Promise<StoredModel | undefined> {
      return findBy('uid', model, uidDigest);
    },

    findByUserCode(model: string, userCodeDigest: string): Promise<StoredModel | undefined> {
      return findBy('user_code', model, userCodeDigest);
    },

    /**
     * Marks an instance consumed. `won` is false when it was already consumed (or is gone): the
     * UPDATE's row count makes exactly one of any number of concurrent callers the winner.
     */
    consume(model: string, key: string): Promise<{ won: boolean; grantId: string | undefined }> {
      return consumeBatch({ model, key });
    },

    async destroy(model: string, key: string): Promise<void> {
      await pool.query('DELETE FROM oidc_payloads WHERE id = $2 AND model = $1', [model, key]);
    },

    /** Removes the instances of one model that stem from a grant (oidc-provider's revokeByGrantId). */
    async revokeByGrantId(model: string, grantId: string): Promise<void> {
      await pool.query('DELETE FROM oidc_payloads WHERE grant_id = $2 AND model = $1', [model, grantId]);
    },

    /** Removes a grant and everything (codes, tokens) that stems from it: Grant rows carry their own id as grant_id. */
    async revokeGrant(grantId: string): Promise<void> {
      await pool.query('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId]);
    },

    /**
     * Removes every instance (sessions, grants, tokens) of an account, e.g. when the user is deleted or
     * disabled; on a transaction's connection (`db`), together with that change.
     */
    async revokeByAccountId(accountId: string, db: Queryable = pool): Promise<void> {
      await db.query(
        `DELETE FROM oidc_payloads WHERE account_id = $1
            OR grant_id IN (SELECT grant_id FROM oidc_payloads WHERE model = 'Grant' AND account_id = $1)`,
        [accountId],
      );
    },

    /** Removes every instance issued to a client (tokens, codes, grants); on `db`, within its transaction. */
    async revokeByClientId(clientId: string, db: Queryable = pool): Promise<void> {
      await db.query('DELETE FROM oidc_payloads WHERE client_id = $1', [clientId]);
    },

    /** True when the row is this client's and expired but not yet swept (to tell "expired" from "unknown"). */
    async isExpiredFor(model: string, key: string, clientId: string): Promise<boolean> {
      const { rowCount } = await pool.query(
        'SELECT 1 FROM oidc_payloads WHERE model = $1 AND id = $2 AND client_id = $3 AND expires_at <= now()',
        [model, key, clientId],
      );
      return (rowCount ?? 0) > 0;
    },

    /**
     * Deletes up to `batch` expired rows; returns how many went. Codes and refresh tokens are kept a
     * while past their expiry (EXPIRED_KEPT) so that the token endpoint can say they expired.
     */
    async deleteExpired(batch = 1000): Promise<number> {
      const { rowCount } = await pool.query(
        `DELETE FROM oidc_payloads WHERE id IN (SELECT id FROM oidc_payloads WHERE ${SWEEPABLE} LIMIT $1)`,
        [batch],
      );
      return rowCount ?? 0;
    },
  };
}

export type ProviderModelsRepo = ReturnType<typeof createProviderModelsRepo>;
