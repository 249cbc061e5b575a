import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import type { Keyring } from '../crypto/keyring.ts';
import type { Pool } from '../db/pool.ts';
import { withTransaction } from '../db/pool.ts';

/** Any constant distinct from the migration lock: serialises first-start key generation. */
const KEYS_LOCK = 0x6b657973n; // "keys"

export type PrivateJwk = JsonWebKey & { kid: string; alg: string; use: 'sig' };

export interface KeyMaterial {
  /** Signing keys, newest first; the provider signs with the first of each algorithm. */
  signing: PrivateJwk[];
  /** Cookie-signing secrets, newest first; older ones still verify. */
  cookie: string[];
}

function generateSigningKeys(): PrivateJwk[] {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: randomUUID(), alg: 'RS256', use: 'sig' },
    { ...ec, kid: randomUUID(), alg: 'ES256', use: 'sig' },
  ];
}

/** How many retired signing keys stay published so tokens they signed still verify. */
const RETIRED_KEYS_KEPT = 2;

type Material = PrivateJwk | { secret: string };

interface KeyRow {
  id: string;
  kind: 'signing' | 'cookie';
  material: Material | null;
  sealed: string | null;
  retired: boolean;
}

/**
 * Signing and cookie keys, shared by every instance. Their private parts are sealed with the keyring
 * (AES-256-GCM, bound to the row id): a copy of the table or a backup holds nothing that can sign a
 * token or forge a session cookie without `ENCRYPTION_KEYS`.
 */
export function createKeysRepo(pool: Pool, keyring: Keyring) {
  const seal = (id: string, material: Material) => keyring.seal(JSON.stringify(material), `keys:${id}`);
  const open = (row: KeyRow): Material => (row.sealed ? (JSON.parse(keyring.open(row.sealed, `keys:${row.id}`)) as Material) : row.material!);

  async function load(): Promise<KeyMaterial> {
    const { rows } = await pool.query<KeyRow>(
      `SELECT id, kind, material, sealed, retired_at IS NOT NULL AS retired FROM keys ORDER BY created_at DESC, id`,
    );
    const signing = (retired: boolean) => rows.filter((r) => r.kind === 'signing' && r.retired === retired).map((r) => open(r) as PrivateJwk);
    return {
      signing: [...signing(false), ...signing(true).slice(0, RETIRED_KEYS_KEPT * 2)],
      cookie: rows.filter((r) => r.kind === 'cookie').map((r) => (open(r) as { secret: string }).secret),
    };
  }

  async function insertKey(db: { query: Pool['query'] }, id: string, kind: 'signing' | 'cookie', material: Material): Promise<void> {
    await db.query('INSERT INTO keys (id, kind, sealed) VALUES ($1, $2, $3)', [id, kind, seal(id, material)]);
  }

  async function insertSigningKeys(db: { query: Pool['query'] }): Promise<PrivateJwk[]> {
    const keys = generateSigningKeys();
    for (const key of keys) await insertKey(db, key.kid, 'signing', key);
    return keys;
  }

  return {
    /**
     * Loads the keys, generating them on the very first start. Rows kept in plaintext (before keys
     * were encrypted) or sealed under an older key are sealed again under the current one. The
     * advisory lock makes two instances starting together agree on one set.
     */
    async ensure(): Promise<KeyMaterial> {
      await withTransaction(pool, async (db) => {
        await db.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK.toString()]);
        const { rows } = await db.query<KeyRow>('SELECT id, kind, material, sealed, retired_at IS NOT NULL AS retired FROM keys');
        for (const row of rows) {
          if (row.sealed && keyring.isCurrent(row.sealed)) continue;
          await db.query('UPDATE keys SET sealed = $2, material = NULL WHERE id = $1', [row.id, seal(row.id, open(row))]);
        }
        const live = (kind: string) => rows.some((r) => r.kind === kind && !r.retired);
        if (!live('signing')) await insertSigningKeys(db);
        if (!live('cookie')) await insertKey(db, randomUUID(), 'cookie', { secret: randomBytes(32).toString('base64url') });
      });
      return load();
    },

    /**
     * Generates new signing keys and retires the current ones. Retired keys stay published in the
     * JWKS (the newest few) so tokens they signed still verify; running instances pick the new keys
     * up on restart.
     */
    async rotateSigningKeys(): Promise<PrivateJwk[]> {
      return withTransaction(pool, async (db) => {
        await db.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK.toString()]);
        await db.query("UPDATE keys SET retired_at = now() WHERE kind = 'signing' AND retired_at IS NULL");
        return insertSigningKeys(db);
      });
    },

    load,
  };
}

export type KeysRepo = ReturnType<typeof createKeysRepo>;
