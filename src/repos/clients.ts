import type { Pool, PoolClient } from '../db/pool.ts';
import { withTransaction } from '../db/pool.ts';
import { addSecretOn, announce, createOn, deleteOn, deleteSecretOn, updateOn } from './client-changes.ts';
import { CLIENT_COLUMNS, SECRET_COLUMNS, toClient, toSecret, toSecretCheck, type ClientRow, type SecretCheckRow, type SecretRow } from './client-rows.ts';
import type { Client, ClientChanges, ClientListOptions, ClientSecret, ClientsRepoOptions, ClientsTransaction, NewClient, NewSecret, SecretCheck } from './client-types.ts';
import { isUuid } from './users.ts';

export {
  CLIENT_CHANGES_CHANNEL,
  CLIENT_TYPES,
  MAX_SECRETS_PER_CLIENT,
  TooManySecretsError,
  type Client,
  type ClientChanges,
  type ClientListOptions,
  type ClientSecret,
  type ClientsRepoOptions,
  type ClientsTransaction,
  type ClientType,
  type NewClient,
  type NewSecret,
  type SecretCheck,
} from './client-types.ts';

export function createClientsRepo(pool: Pool, { onChange }: ClientsRepoOptions = {}) {
  /** A transaction that changes one client; `onChange` hears of it after it commits. */
  async function changing<T>(clientId: string, fn: (db: PoolClient) => Promise<T>): Promise<T> {
    const result = await withTransaction(pool, fn);
    onChange?.(clientId);
    return result;
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
