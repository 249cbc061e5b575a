import type { Pool, PoolClient } from '../db/pool.ts';
import { withTransaction } from '../db/pool.ts';
import { CLIENT_COLUMNS, SECRET_COLUMNS, toClient, toSecret, toSecretCheck, type ClientRow, type SecretCheckRow, type SecretRow } from './client-rows.ts';
import { isUuid } from './users.ts';
import { CLIENT_TYPES } from '../rules/client-rules.js';

export { CLIENT_TYPES };
export type ClientType = (typeof CLIENT_TYPES)[number];

export interface Client {
  id: string;
  type: ClientType;
  name: string;
  enabled: boolean;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  allowRefreshToken: boolean;
  accessTokenLifetime: number;
  allowedCorsOrigins: string[];
  roles: string[];
  /** Bumped by every change to the client or its secrets, in the change's own statement. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface ClientSecret {
  id: string;
  clientId: string;
  description: string;
  expiresAt: Date | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** What client authentication needs of a secret; never leaves the server. */
export interface SecretCheck {
  id: string;
  /** SHA-256 digest (base64url) of the value; null for a secret issued before digests, not yet used since. */
  digest: string | null;
  /** argon2id hash of a secret issued before digests; null once it was used and now has a digest. */
  legacyHash: string | null;
  expiresAt: Date | null;
}

export interface NewClient {
  type: ClientType;
  name: string;
  enabled?: boolean;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  allowRefreshToken?: boolean;
  accessTokenLifetime?: number;
  allowedCorsOrigins?: string[];
  roles?: string[];
}

export type ClientChanges = Partial<Omit<NewClient, 'type'>>;

export interface NewSecret {
  description: string;
  /** SHA-256 digest of the generated value (see crypto/digest.ts); the value itself is never stored. */
  digest: string;
  expiresAt: Date | null;
}

/** Raised when a client already holds the maximum number of secrets. */
export class TooManySecretsError extends Error {
  readonly max: number;
  constructor(max: number) {
    super(`a client holds at most ${max} secrets`);
    this.max = max;
    this.name = 'TooManySecretsError';
  }
}

export const MAX_SECRETS_PER_CLIENT = 10;

/** Channel on which every change to a client or its secrets is announced to all instances. */
export const CLIENT_CHANGES_CHANNEL = 'keyhold_client_changes';

/**
 * Every change to a client or its secrets, in the transaction that makes it, bumps the client's version
 * (so a cached copy fails its check at the next token write or read, see provider-models.ts; a secret's
 * upgrade to a digest changes nothing an instance acts on and keeps it) and, here, tells every instance
 * to drop its copy.
 */
async function announce(db: PoolClient, clientId: string): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [CLIENT_CHANGES_CHANNEL, clientId]);
}

/** Bumps the version of a secret's client; the row lock also serialises changes to its secrets. */
async function bumpVersion(db: PoolClient, clientId: string): Promise<void> {
  await db.query('UPDATE clients SET version = version + 1 WHERE id = $1', [clientId]);
}

export interface ClientsRepoOptions {
  /**
   * Called once a change to a client has committed, in this process: the instance that made the change
   * drops its cached copy at once, while other instances hear of it through NOTIFY.
   */
  onChange?: (clientId: string) => void;
}

/** What `transaction` hands out: the repository's changes, made on one connection. */
export interface ClientsTransaction {
  /** The transaction's connection: other repositories' statements on it commit or roll back with the changes. */
  db: PoolClient;
  /** The client as it is now, its row locked until the transaction ends (the "before" of a change). */
  lock(id: string): Promise<Client | undefined>;
  create(input: NewClient, firstSecret?: NewSecret): Promise<{ client: Client; secret?: ClientSecret }>;
  update(id: string, changes: ClientChanges): Promise<Client | undefined>;
  delete(id: string): Promise<boolean>;
  addSecret(clientId: string, secret: NewSecret): Promise<ClientSecret>;
  deleteSecret(clientId: string, secretId: string): Promise<boolean>;
}

export interface ClientListOptions {
  type?: ClientType;
  /** A LIKE pattern, its wildcards escaped: clients whose name holds it (whatever the case), or whose id starts with it. */
  search?: string;
  limit?: number;
  after?: { createdAt: Date; id: string };
}

export function createClientsRepo(pool: Pool, { onChange }: ClientsRepoOptions = {}) {
  /** A transaction that changes one client; `onChange` hears of it after it commits. */
  async function changing<T>(clientId: string, fn: (db: PoolClient) => Promise<T>): Promise<T> {
    const result = await withTransaction(pool, fn);
    onChange?.(clientId);
    return result;
  }

  /** Changes a client on `db` (inside a transaction), announcing it there; undefined when there is none. */
  async function updateOn(db: PoolClient, id: string, changes: ClientChanges): Promise<Client | undefined> {
    const columns: Array<[string, unknown]> = [];
    if (changes.name !== undefined) columns.push(['name', changes.name]);
    if (changes.enabled !== undefined) columns.push(['enabled', changes.enabled]);
    if (changes.redirectUris !== undefined) columns.push(['redirect_uris', changes.redirectUris]);
    if (changes.postLogoutRedirectUris !== undefined) columns.push(['post_logout_redirect_uris', changes.postLogoutRedirectUris]);
    if (changes.allowRefreshToken !== undefined) columns.push(['allow_refresh_token', changes.allowRefreshToken]);
    if (changes.accessTokenLifetime !== undefined) columns.push(['access_token_lifetime', changes.accessTokenLifetime]);
    if (changes.allowedCorsOrigins !== undefined) columns.push(['allowed_cors_origins', changes.allowedCorsOrigins]);
    if (changes.roles !== undefined) columns.push(['roles', changes.roles]);
    const sets = columns.map(([column], i) => `${column} = $${i + 2}`);
    const { rows } = await db.query<ClientRow>(
      `UPDATE clients SET ${[...sets, 'updated_at = now()', 'version = version + 1'].join(', ')} WHERE id = $1 RETURNING ${CLIENT_COLUMNS}`,
      [id, ...columns.map(([, value]) => value)],
    );
    if (!rows[0]) return undefined;
    // A client that stops allowing refresh tokens ends the ones it holds, in the same transaction:
    // turning the setting back on later does not revive them.
    if (changes.allowRefreshToken === false) {
      await db.query("DELETE FROM oidc_payloads WHERE model = 'RefreshToken' AND client_id = $1", [id]);
    }
    await announce(db, id);
    return toClient(rows[0]);
  }

  /** Deletes a client (and, by cascade, its secrets) on `db`, announcing it there; false when there is none. */
  async function deleteOn(db: PoolClient, id: string): Promise<boolean> {
    const { rowCount } = await db.query('DELETE FROM clients WHERE id = $1', [id]);
    if (rowCount !== 1) return false;
    await announce(db, id);
    return true;
  }

  async function insertSecret(db: PoolClient, clientId: string, secret: NewSecret): Promise<ClientSecret> {
    // Locks the client row, so two concurrent additions cannot both pass the count check.
    await bumpVersion(db, clientId);
    const { rows: count } = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM client_secrets WHERE client_id = $1',
      [clientId],
    );
    if ((count[0]?.n ?? 0) >= MAX_SECRETS_PER_CLIENT) throw new TooManySecretsError(MAX_SECRETS_PER_CLIENT);
    const { rows } = await db.query<SecretRow>(
      `INSERT INTO client_secrets (client_id, description, secret_digest, expires_at)
       VALUES ($1, $2, $3, $4) RETURNING ${SECRET_COLUMNS}`,
      [clientId, secret.description, secret.digest, secret.expiresAt],
    );
    return toSecret(rows[0]!);
  }

  async function createOn(db: PoolClient, input: NewClient, firstSecret?: NewSecret): Promise<{ client: Client; secret?: ClientSecret }> {
    const { rows } = await db.query<ClientRow>(
      `INSERT INTO clients (type, name, enabled, redirect_uris, post_logout_redirect_uris, allow_refresh_token,
         access_token_lifetime, allowed_cors_origins, roles)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${CLIENT_COLUMNS}`,
      [
        input.type,
        input.name,
        input.enabled ?? true,
        input.redirectUris ?? [],
        input.postLogoutRedirectUris ?? [],
        input.allowRefreshToken ?? false,
        input.accessTokenLifetime ?? 3600,
        input.allowedCorsOrigins ?? [],
        input.roles ?? [],
      ],
    );
    let client = toClient(rows[0]!);
    const secret = firstSecret ? await insertSecret(db, client.id, firstSecret) : undefined;
    // The first secret bumped the version the insert returned.
    if (secret) client = { ...client, version: client.version + 1 };
    await announce(db, client.id);
    return secret ? { client, secret } : { client };
  }

  async function addSecretOn(db: PoolClient, clientId: string, secret: NewSecret): Promise<ClientSecret> {
    const stored = await insertSecret(db, clientId, secret);
    await announce(db, clientId);
    return stored;
  }

  async function deleteSecretOn(db: PoolClient, clientId: string, secretId: string): Promise<boolean> {
    const { rowCount } = await db.query('DELETE FROM client_secrets WHERE client_id = $1 AND id = $2', [clientId, secretId]);
    if (rowCount !== 1) return false;
    await bumpVersion(db, clientId);
    await announce(db, clientId);
    return true;
  }

  return {
    /** Creates a client and, when given, its first secret, atomically. */
    async create(input: NewClient, firstSecret?: NewSecret): Promise<{ client: Client; secret?: ClientSecret }> {
      return withTransaction(pool, (db) => createOn(db, input, firstSecret));
    },

    async findById(id: string): Promise<Client | undefined> {
      if (!isUuid(id)) return undefined;
      const { rows } = await pool.query<ClientRow>(`SELECT ${CLIENT_COLUMNS} FROM clients WHERE id = $1`, [id]);
      return rows[0] ? toClient(rows[0]) : undefined;
    },

    /**
     * Keyset pagination by (created_at, id), in index order. created_at is stored at the millisecond a
     * Date (and so a cursor) holds, so a cursor built from a returned client neither skips nor repeats rows.
     */
    async list({ type, search, limit = 50, after }: ClientListOptions = {}): Promise<Client[]> {
      const { rows } = await pool.query<ClientRow>(
        `SELECT ${CLIENT_COLUMNS} FROM clients
         WHERE ($1::text IS NULL OR type = $1)
           AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
           AND ($5::text IS NULL OR name ILIKE '%' || $5 || '%' OR id::text ILIKE $5 || '%')
         ORDER BY created_at, id LIMIT $4`,
        [type ?? null, after?.createdAt ?? null, after?.id ?? null, limit, search ?? null],
      );
      return rows.map(toClient);
    },

    async update(id: string, changes: ClientChanges): Promise<Client | undefined> {
      if (!isUuid(id)) return undefined;
      return changing(id, (db) => updateOn(db, id, changes));
    },

    async delete(id: string): Promise<boolean> {
      if (!isUuid(id)) return false;
      return changing(id, (db) => deleteOn(db, id));
    },

    /**
     * Runs `fn` in one transaction whose client changes (`tx.update`, `tx.delete`) keep their rules: each
     * bumps the client's version and is announced in the transaction, and `onChange` hears of every client
     * changed once it has committed (of none when it rolled back).
     */
    async transaction<T>(fn: (tx: ClientsTransaction) => Promise<T>): Promise<T> {
      const changed = new Set<string>();
      const result = await withTransaction(pool, (db) =>
        fn({
          db,
          lock: async (id) => {
            if (!isUuid(id)) return undefined;
            const { rows } = await db.query<ClientRow>(`SELECT ${CLIENT_COLUMNS} FROM clients WHERE id = $1 FOR UPDATE`, [id]);
            return rows[0] ? toClient(rows[0]) : undefined;
          },
          create: async (input, firstSecret) => {
            const created = await createOn(db, input, firstSecret);
            changed.add(created.client.id);
            return created;
          },
          update: async (id, changes) => {
            if (!isUuid(id)) return undefined;
            changed.add(id);
            return updateOn(db, id, changes);
          },
          delete: async (id) => {
            if (!isUuid(id)) return false;
            changed.add(id);
            return deleteOn(db, id);
          },
          addSecret: async (clientId, secret) => {
            changed.add(clientId);
            return addSecretOn(db, clientId, secret);
          },
          deleteSecret: async (clientId, secretId) => {
            if (!isUuid(clientId) || !isUuid(secretId)) return false;
            changed.add(clientId);
            return deleteSecretOn(db, clientId, secretId);
          },
        }),
      );
      for (const id of changed) onChange?.(id);
      return result;
    },

    async listSecrets(clientId: string): Promise<ClientSecret[]> {
      if (!isUuid(clientId)) return [];
      const { rows } = await pool.query<SecretRow>(
        `SELECT ${SECRET_COLUMNS} FROM client_secrets WHERE client_id = $1 ORDER BY created_at, id`,
        [clientId],
      );
      return rows.map(toSecret);
    },

    /** The secrets of several clients at once (for a page of clients), by client id. */
    async secretsOf(clientIds: string[]): Promise<Map<string, ClientSecret[]>> {
      const byClient = new Map<string, ClientSecret[]>();
      const ids = clientIds.filter(isUuid);
      if (ids.length === 0) return byClient;
      const { rows } = await pool.query<SecretRow>(
        `SELECT ${SECRET_COLUMNS} FROM client_secrets WHERE client_id = ANY ($1::uuid[]) ORDER BY created_at, id`,
        [ids],
      );
      for (const row of rows) {
        const secret = toSecret(row);
        byClient.set(secret.clientId, [...(byClient.get(secret.clientId) ?? []), secret]);
      }
      return byClient;
    },

    async addSecret(clientId: string, secret: NewSecret): Promise<ClientSecret> {
      return changing(clientId, (db) => addSecretOn(db, clientId, secret));
    },

    async deleteSecret(clientId: string, secretId: string): Promise<boolean> {
      if (!isUuid(clientId) || !isUuid(secretId)) return false;
      return changing(clientId, (db) => deleteSecretOn(db, clientId, secretId));
    },

    /**
     * A client with what its authentication needs (every secret's digest or legacy hash and expiry),
     * in one round trip: what an instance keeps for the provider until the client changes.
     */
    async findWithSecretChecks(id: string): Promise<{ client: Client; secrets: SecretCheck[] } | undefined> {
      if (!isUuid(id)) return undefined;
      const { rows } = await pool.query<ClientRow & { secrets: SecretCheckRow[] }>(
        `SELECT ${CLIENT_COLUMNS},
           (SELECT coalesce(json_agg(json_build_object('id', s.id, 'digest', s.secret_digest, 'legacy_hash', s.legacy_hash, 'expires_at', s.expires_at)), '[]')
              FROM client_secrets s WHERE s.client_id = clients.id) AS secrets
         FROM clients WHERE id = $1`,
        [id],
      );
      const row = rows[0];
      return row ? { client: toClient(row), secrets: row.secrets.map(toSecretCheck) } : undefined;
    },

    /** A secret issued before digests was used: keep its digest from now on and drop the argon2id hash. */
    async upgradeLegacySecret(clientId: string, secretId: string, digest: string): Promise<void> {
      await changing(clientId, async (db) => {
        const { rowCount } = await db.query(
          'UPDATE client_secrets SET secret_digest = $3, legacy_hash = NULL WHERE client_id = $1 AND id = $2 AND legacy_hash IS NOT NULL',
          [clientId, secretId, digest],
        );
        // The same secret still authenticates: instances re-read it, but need not refuse what they cached.
        if (rowCount === 1) await announce(db, clientId);
      });
    },

    /** Records a successful use; coarse (once a minute at most) so the token path rarely writes. */
    async touchSecret(secretId: string): Promise<void> {
      await pool.query(
        `UPDATE client_secrets SET last_used_at = now()
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
        [secretId],
      );
    },
  };
}

export type ClientsRepo = ReturnType<typeof createClientsRepo>;
