import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
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

export function createKeysRepo(pool: Pool) {
  async function load(): Promise<KeyMaterial> {
    const { rows } = await pool.query<{ kind: 'signing' | 'cookie'; material: PrivateJwk | { secret: string }; retired: boolean }>(
      `SELECT kind, material, retired_at IS NOT NULL AS retired FROM keys ORDER BY created_at DESC, id`,
    );
    const active = rows.filter((r) => r.kind === 'signing' && !r.retired).map((r) => r.material as PrivateJwk);
    const retired = rows.filter((r) => r.kind === 'signing' && r.retired).map((r) => r.material as PrivateJwk);
    return {
      signing: [...active, ...retired.slice(0, RETIRED_KEYS_KEPT * 2)],
      cookie: rows.filter((r) => r.kind === 'cookie').map((r) => (r.material as { secret: string }).secret),
    };
  }

  async function insertSigningKeys(db: { query: Pool['query'] }): Promise<PrivateJwk[]> {
    const keys = generateSigningKeys();
    for (const key of keys) {
      await db.query("INSERT INTO keys (id, kind, material) VALUES ($1, 'signing', $2)", [key.kid, key]);
    }
    return keys;
  }

  return {
    /**
     * Loads the keys, generating them on the very first start. The advisory lock makes two instances
     * starting together agree on one set.
     */
    async ensure(): Promise<KeyMaterial> {
      await withTransaction(pool, async (db) => {
        await db.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK.toString()]);
        const { rows } = await db.query<{ kind: string; n: number }>(
          'SELECT kind, count(*)::int AS n FROM keys WHERE retired_at IS NULL GROUP BY kind',
        );
        const count = (kind: string) => rows.find((r) => r.kind === kind)?.n ?? 0;
        if (count('signing') === 0) await insertSigningKeys(db);
        if (count('cookie') === 0) {
          await db.query("INSERT INTO keys (id, kind, material) VALUES ($1, 'cookie', $2)", [
            randomUUID(),
            { secret: randomBytes(32).toString('base64url') },
          ]);
        }
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
