import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { SealedDataError, type Keyring } from '../crypto/keyring.ts';
import type { Pool, Queryable } from '../db/pool.ts';
import { withTransaction } from '../db/pool.ts';
import { conflict, notFound } from '../errors.ts';
import { SIGNING_KEY_RETENTION } from '../oidc/lifetimes.ts';

/** Any constant distinct from the migration lock: serialises key generation, rotation and retirement. */
const KEYS_LOCK = 0x6b657973n; // "keys"

/** Where a change to the signing keys is announced; every instance LISTENs and reloads them. */
export const KEYS_CHANNEL = 'keyhold_keys';

/** The algorithms Keyhold signs with; every rotation makes one new key of each. */
const SIGNING_ALGS = ['RS256', 'ES256'] as const;

export type PrivateJwk = JsonWebKey & { kid: string; alg: string; use: 'sig' };

/**
 * - pending: published in the JWKS, not signing yet (relying parties' JWKS caches catch up)
 * - active: signing (one per algorithm), published
 * - retiring: published, no longer signing; what it signed still verifies
 * - retired: gone from the JWKS; nothing it signed is accepted any more
 */
export type KeyState = 'pending' | 'active' | 'retiring' | 'retired';

export interface SigningKeyInfo {
  kid: string;
  alg: string;
  state: KeyState;
  createdAt: Date;
  /** When it signs (or signed) first. */
  activatesAt: Date;
  /** When it leaves (or left) the JWKS; null while no newer key of its algorithm is there to replace it. */
  retiresAt: Date | null;
}

export interface KeyMaterial {
  /**
   * The signing keys to publish (pending, active and retiring), the active ones first: the engine
   * signs with the first key of an algorithm.
   */
  signing: PrivateJwk[];
  /** The kids of the active keys, the only ones that may sign. */
  active: string[];
  /** Cookie-signing secrets, newest first; older ones still verify. */
  cookie: string[];
}

/** The keys as they stand, for an instance that keeps up with them (oidc/live-keys.ts). */
export interface KeySnapshot {
  material: KeyMaterial;
  /** Every signing key, retired ones too, newest first. */
  keys: SigningKeyInfo[];
  /** Milliseconds (by the database's clock) until the next key changes state; null when none will by itself. */
  nextChangeMs: number | null;
  /** The algorithms whose newest key (retired ones aside) is older than `rotationDays`, when asked. */
  due: string[];
}

/** Told of each rotation and retirement inside the transaction that makes it, before it commits. */
export interface KeyEvents {
  onRotated?(event: RotationEvent, db: Queryable): Promise<void> | void;
  onRetired?(event: { key: SigningKeyInfo }, db: Queryable): Promise<void> | void;
}

export interface RotationEvent {
  /** The new keys. */
  keys: SigningKeyInfo[];
  /** The keys that signed until now (they sign until the new ones activate). */
  replaced: SigningKeyInfo[];
  /** Pending keys dropped because the new ones replace them before they ever signed. */
  dropped: SigningKeyInfo[];
  /** `manual`: `keys rotate`; `schedule`: KEY_ROTATION_DAYS. */
  reason: 'manual' | 'schedule';
}

export interface RotateOptions {
  /** Seconds before the new keys sign; 0 signs with them at once (a compromised key). */
  activationDelay: number;
  reason?: RotationEvent['reason'];
}

function generateSigningKey(alg: (typeof SIGNING_ALGS)[number]): PrivateJwk {
  const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...pair.privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg, use: 'sig' };
}

type Material = PrivateJwk | { secret: string };

interface KeyRow {
  id: string;
  kind: 'signing' | 'cookie';
  alg: string | null;
  material: Material | null;
  sealed: string | null;
  /** Cookie keys only (signing keys have activates_at and retires_at). */
  retired: boolean;
  created_at: Date;
  activates_at: Date;
  retires_at: Date | null;
}

const ROW_COLUMNS = 'id, kind, alg, material, sealed, retired_at IS NOT NULL AS retired, created_at, activates_at, retires_at';

interface LifecycleRow {
  id: string;
  alg: string;
  created_at: Date;
  activates_at: Date;
  retires_at: Date | null;
}

const byActivation = (a: LifecycleRow, b: LifecycleRow) =>
  a.activates_at.getTime() - b.activates_at.getTime() || a.created_at.getTime() - b.created_at.getTime() || a.id.localeCompare(b.id);

/**
 * The state of every signing key at `now`. Per algorithm, the keys sign one after the other in order
 * of activation: a key signs from its activates_at until the next key activates, and is published
 * until `retentionSeconds` after that. A key retired before it activated (by hand, or a pending key a
 * newer rotation replaced) never signs and takes no place in that order; one retired by hand leaves
 * at its retires_at.
 */
export function signingKeyStates(rows: readonly LifecycleRow[], now: Date, retentionSeconds = SIGNING_KEY_RETENTION): SigningKeyInfo[] {
  const retention = retentionSeconds * 1000;
  const t = now.getTime();
  const out = new Map<string, SigningKeyInfo>();
  for (const alg of new Set(rows.map((r) => r.alg))) {
    // The keys that sign (or signed, or will) in turn: all but those retired before they activated.
    const line = rows.filter((r) => r.alg === alg && (r.retires_at === null || r.retires_at > r.activates_at)).sort(byActivation);
    const activated = line.filter((r) => r.activates_at.getTime() <= t);
    const active = activated.at(-1);
    for (const row of rows.filter((r) => r.alg === alg)) {
      const place = line.indexOf(row);
      const successor = place === -1 ? undefined : line[place + 1];
      const replacedBy = successor ? successor.activates_at.getTime() + retention : Infinity;
      const retiresAt = Math.min(row.retires_at?.getTime() ?? Infinity, replacedBy);
      let state: KeyState;
      if (retiresAt <= t) state = 'retired';
      else if (row.activates_at.getTime() > t) state = 'pending';
      else state = row === active ? 'active' : 'retiring';
      out.set(row.id, {
        kid: row.id,
        alg,
        state,
        createdAt: row.created_at,
        activatesAt: row.activates_at,
        retiresAt: retiresAt === Infinity ? null : new Date(retiresAt),
      });
    }
  }
  return rows.map((r) => out.get(r.id)!);
}

/** When the next key changes state by itself (a pending one activates, a published one retires). */
function nextChange(keys: readonly SigningKeyInfo[], now: Date): number | null {
  const times = keys
    .filter((k) => k.state !== 'retired')
    .flatMap((k) => [k.activatesAt.getTime(), k.retiresAt?.getTime() ?? Infinity])
    .filter((time) => time > now.getTime());
  const next = Math.min(...times);
  return next === Infinity ? null : next - now.getTime();
}

/** The algorithms whose newest key still in the JWKS was created `days` or more ago (or that have none). */
function dueForRotation(keys: readonly SigningKeyInfo[], now: Date, days: number): string[] {
  return SIGNING_ALGS.filter((alg) => {
    const newest = Math.max(...keys.filter((k) => k.alg === alg && k.state !== 'retired').map((k) => k.createdAt.getTime()));
    return newest === -Infinity || now.getTime() - newest >= days * 86_400_000;
  });
}

/**
 * Signing and cookie keys, shared by every instance. Their private parts are sealed with the keyring
 * (AES-256-GCM, bound to the row id): a copy of the table or a backup holds nothing that can sign a
 * token or forge a session cookie without `ENCRYPTION_KEYS`.
 *
 * Signing keys rotate live: a rotation publishes new keys at once and announces it on KEYS_CHANNEL;
 * they sign after an activation delay, and the keys they replace stay published for the retention
 * (see signingKeyStates). Every change takes KEYS_LOCK for its transaction, so concurrent rotations
 * (the CLI, the schedule on several instances) happen one after the other, each seeing the last.
 */
export function createKeysRepo(pool: Pool, keyring: Keyring, events: KeyEvents = {}) {
  const seal = (id: string, material: Material) => keyring.seal(JSON.stringify(material), `keys:${id}`);
  const open = (row: KeyRow): Material => (row.sealed ? (JSON.parse(keyring.open(row.sealed, `keys:${row.id}`)) as Material) : row.material!);

  /** The rows, with the algorithm of any signing row sealed before it was a column (read from its material). */
  async function readRows(db: Queryable): Promise<{ rows: KeyRow[]; now: Date; algless: KeyRow[] }> {
    const { rows } = await db.query<KeyRow & { now: Date }>(`SELECT ${ROW_COLUMNS}, now() AS now FROM keys ORDER BY created_at DESC, alg, id`);
    const algless = rows.filter((row) => row.kind === 'signing' && row.alg === null);
    for (const row of algless) row.alg = (open(row) as PrivateJwk).alg;
    // now() of an empty table: asked apart.
    const now = rows[0]?.now ?? (await db.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now;
    return { rows, now, algless };
  }

  const signingRows = (rows: readonly KeyRow[]) => rows.filter((r) => r.kind === 'signing') as Array<KeyRow & { alg: string }>;

  function snapshotOf(rows: readonly KeyRow[], now: Date, rotationDays: number): KeySnapshot {
    const signing = signingRows(rows);
    const keys = signingKeyStates(signing, now);
    const inState = (state: KeyState) => signing.filter((_, i) => keys[i]!.state === state).map((r) => open(r) as PrivateJwk);
    return {
      material: {
        signing: [...inState('active'), ...inState('pending'), ...inState('retiring')],
        active: keys.filter((k) => k.state === 'active').map((k) => k.kid),
        cookie: rows.filter((r) => r.kind === 'cookie').map((r) => (open(r) as { secret: string }).secret),
      },
      keys,
      nextChangeMs: nextChange(keys, now),
      due: rotationDays > 0 ? dueForRotation(keys, now, rotationDays) : [],
    };
  }

  async function snapshot(rotationDays = 0): Promise<KeySnapshot> {
    const { rows, now } = await readRows(pool);
    return snapshotOf(rows, now, rotationDays);
  }

  async function insertKey(db: Queryable, id: string, kind: 'signing' | 'cookie', material: Material, alg: string | null = null, delaySeconds = 0) {
    await db.query(
      "INSERT INTO keys (id, kind, alg, sealed, activates_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
      [id, kind, alg, seal(id, material), delaySeconds],
    );
  }

  /**
   * Runs `fn` in a transaction holding KEYS_LOCK, on the signing keys as they stand (by the database's
   * clock). The keyring must open every key still published: keys sealed under a key the instances do
   * not hold would be of no use to them.
   */
  async function locked<T>(fn: (db: Queryable, keys: SigningKeyInfo[], now: Date) => Promise<T>): Promise<T> {
    return withTransaction(pool, async (db) => {
      await db.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK.toString()]);
      const { rows, now } = await readRows(db);
      const signing = signingRows(rows);
      const keys = signingKeyStates(signing, now);
      try {
        for (const [i, row] of signing.entries()) if (keys[i]!.state !== 'retired') open(row);
      } catch (err) {
        if (!(err instanceof SealedDataError)) throw err;
        throw new SealedDataError(`ENCRYPTION_KEYS does not open the signing keys in the database (${err.message}); use the keys the Keyhold instances run with`);
      }
      return fn(db, keys, now);
    });
  }

  async function rotateLocked(db: Queryable, keys: SigningKeyInfo[], { activationDelay, reason = 'manual' }: RotateOptions): Promise<RotationEvent> {
    // Keys still pending never signed anything: the new ones replace them outright.
    const dropped = keys.filter((k) => k.state === 'pending');
    if (dropped.length) await db.query('UPDATE keys SET retires_at = now() WHERE id = ANY($1)', [dropped.map((k) => k.kid)]);
    const replaced = keys.filter((k) => k.state === 'active');
    const created: string[] = [];
    for (const alg of SIGNING_ALGS) {
      const key = generateSigningKey(alg);
      await insertKey(db, key.kid, 'signing', key, alg, activationDelay);
      created.push(key.kid);
    }
    await db.query('SELECT pg_notify($1, $2)', [KEYS_CHANNEL, 'rotated']);
    const { rows, now } = await readRows(db);
    const after = new Map(signingKeyStates(signingRows(rows), now).map((k) => [k.kid, k]));
    const event: RotationEvent = {
      keys: created.map((kid) => after.get(kid)!),
      replaced: replaced.map((k) => after.get(k.kid)!),
      dropped: dropped.map((k) => after.get(k.kid)!),
      reason,
    };
    await events.onRotated?.(event, db);
    return event;
  }

  return {
    /**
     * Loads the keys, generating them on the very first start (or when none is left to sign). Rows kept
     * in plaintext (before keys were encrypted) or sealed under an older key are sealed again under the
     * current one, and signing rows sealed before the algorithm was a column get it. The advisory lock
     * makes two instances starting together agree on one set.
     */
    async ensure(): Promise<KeyMaterial> {
      await withTransaction(pool, async (db) => {
        await db.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK.toString()]);
        const { rows, now, algless } = await readRows(db);
        for (const row of rows) {
          if (row.sealed && keyring.isCurrent(row.sealed)) continue;
          await db.query('UPDATE keys SET sealed = $2, material = NULL WHERE id = $1', [row.id, seal(row.id, open(row))]);
        }
        for (const row of algless) await db.query('UPDATE keys SET alg = $2 WHERE id = $1', [row.id, row.alg]);
        const signing = signingKeyStates(signingRows(rows), now);
        if (!signing.some((k) => k.state === 'active')) {
          for (const alg of SIGNING_ALGS) {
            const key = generateSigningKey(alg);
            await insertKey(db, key.kid, 'signing', key, alg);
          }
        }
        if (!rows.some((r) => r.kind === 'cookie' && !r.retired)) await insertKey(db, randomUUID(), 'cookie', { secret: randomBytes(32).toString('base64url') });
      });
      return (await snapshot()).material;
    },

    /** The keys to publish and sign with, as they stand now. */
    async load(): Promise<KeyMaterial> {
      return (await snapshot()).material;
    },

    snapshot,

    /** Every signing key with its state, newest first (retired ones too); opens none of them. */
    async list(): Promise<SigningKeyInfo[]> {
      const { rows, now } = await readRows(pool);
      return signingKeyStates(signingRows(rows), now);
    },

    /**
     * Makes a new key of each algorithm: published at once (running instances hear of it on
     * KEYS_CHANNEL), signing after `activationDelay` seconds. The keys signing until then stay published
     * for the retention after the new ones activate; keys still pending are replaced outright.
     */
    async rotate(options: RotateOptions): Promise<RotationEvent> {
      return locked((db, keys) => rotateLocked(db, keys, options));
    },

    /**
     * The schedule (KEY_ROTATION_DAYS): rotates when the newest key of an algorithm is `days` old or
     * older. Decided under the lock, so of instances checking at once exactly one rotates; the others
     * find the new keys. Returns the rotation, or undefined when none was due.
     */
    async rotateIfDue(days: number, activationDelay: number): Promise<RotationEvent | undefined> {
      return locked(async (db, keys, now) => {
        if (dueForRotation(keys, now, days).length === 0) return undefined;
        return rotateLocked(db, keys, { activationDelay, reason: 'schedule' });
      });
    },

    /**
     * Takes a key out of the JWKS at once: running instances stop publishing and accepting it. The key
     * signing for its algorithm cannot be retired (nothing would sign): rotate with --now first.
     */
    async retire(kid: string): Promise<SigningKeyInfo> {
      return locked(async (db, keys) => {
        const key = keys.find((k) => k.kid === kid);
        if (!key) throw notFound(`there is no signing key with id "${kid}"`);
        if (key.state === 'retired') throw conflict(`the ${key.alg} key ${kid} is already retired`);
        if (key.state === 'active') {
          throw conflict(`the ${key.alg} key ${kid} is the one signing ${key.alg}: make another sign first (keys rotate --now), then retire it`);
        }
        await db.query('UPDATE keys SET retires_at = now() WHERE id = $1', [kid]);
        await db.query('SELECT pg_notify($1, $2)', [KEYS_CHANNEL, 'retired']);
        const { rows, now } = await readRows(db);
        const retired = signingKeyStates(signingRows(rows), now).find((k) => k.kid === kid)!;
        await events.onRetired?.({ key: retired }, db);
        return retired;
      });
    },
  };
}

export type KeysRepo = ReturnType<typeof createKeysRepo>;
