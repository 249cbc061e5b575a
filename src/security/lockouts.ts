import { digest } from '../crypto/digest.ts';
import type { Pool, Queryable } from '../db/pool.ts';
import { usernameKey } from './credentials.ts';

export interface LockoutPolicy {
  /** Consecutive failures that lock an account. */
  threshold: number;
  /** Seconds of the first lock. */
  seconds: number;
  /** The longest lock, in seconds, as locks double with each further failure. */
  maxSeconds: number;
}

export interface LockState {
  failures: number;
  /** Set while the account is locked. */
  lockedUntil: Date | undefined;
}

/**
 * Usernames are unique whatever their case; the counters are filed under the digest of the trimmed,
 * lower-cased name, so " Alice " and "alice" count as one name, as they sign in as one user.
 */
function usernameDigest(username: string): string {
  return digest(usernameKey(username));
}

/**
 * Sign-in lockouts, per username whether or not such a user exists (so that a lock tells nobody which
 * names are real). After `threshold` consecutive failures the name locks for `seconds`; each further
 * failure once a lock has ended locks it again for twice as long, up to `maxSeconds`. Attempts while
 * locked are refused without changing anything. A success, or an administrator, resets the count.
 */
export function createLockouts(pool: Pool, policy: LockoutPolicy) {
  // 2^20 first locks is already far beyond any cap; the exponent stops there.
  const MAX_DOUBLINGS = 20;
  return {
    /** The name's state now (no row: no failures). */
    async state(username: string): Promise<LockState> {
      const { rows } = await pool.query<{ failures: number; locked_until: Date | null }>({
        name: 'keyhold-lockout-state',
        text: `SELECT failures, CASE WHEN locked_until > now() THEN locked_until END AS locked_until
               FROM signin_failures WHERE username_digest = $1`,
        values: [usernameDigest(username)],
      });
      const row = rows[0];
      return { failures: row?.failures ?? 0, lockedUntil: row?.locked_until ?? undefined };
    },

    /**
     * Counts a failed sign-in, unless the name is locked (then nothing changes). Returns the state
     * after it: locked when this failure reached the threshold.
     */
    async recordFailure(username: string): Promise<LockState> {
      const { rows } = await pool.query<{ failures: number; locked_until: Date | null }>({
        name: 'keyhold-lockout-failure',
        text: `INSERT INTO signin_failures AS f (username_digest, failures, locked_until, last_failure_at)
               VALUES ($1, 1, CASE WHEN $2::int <= 1 THEN now() + make_interval(secs => $3) END, now())
               ON CONFLICT (username_digest) DO UPDATE SET
                 failures = f.failures + 1,
                 locked_until = CASE WHEN f.failures + 1 >= $2::int
                   THEN now() + make_interval(secs => least($4::float8, $3::float8 * power(2, least(f.failures + 1 - $2::int, ${MAX_DOUBLINGS}))))
                   ELSE f.locked_until END,
                 last_failure_at = now()
               WHERE f.locked_until IS NULL OR f.locked_until <= now()
               RETURNING failures, locked_until`,
        values: [usernameDigest(username), policy.threshold, policy.seconds, policy.maxSeconds],
      });
      const row = rows[0];
      // No row returned: the name was locked, and stays as it was.
      if (!row) return this.state(username);
      return { failures: row.failures, lockedUntil: row.locked_until ?? undefined };
    },

    /** A successful sign-in or an administrator's unlock: the count starts again. */
    async reset(username: string, db: Queryable = pool): Promise<void> {
      await db.query({ name: 'keyhold-lockout-reset', text: 'DELETE FROM signin_failures WHERE username_digest = $1', values: [usernameDigest(username)] });
    },

    /** When each of these names is locked until (names not locked are absent). */
    async lockedUntil(usernames: readonly string[]): Promise<Map<string, Date>> {
      if (usernames.length === 0) return new Map();
      const digests = usernames.map(usernameDigest);
      const { rows } = await pool.query<{ username_digest: string; locked_until: Date }>(
        'SELECT username_digest, locked_until FROM signin_failures WHERE username_digest = ANY ($1::text[]) AND locked_until > now()',
        [digests],
      );
      const byDigest = new Map(rows.map((r) => [r.username_digest, r.locked_until]));
      const result = new Map<string, Date>();
      usernames.forEach((name, i) => {
        const until = byDigest.get(digests[i]!);
        if (until) result.set(name, until);
      });
      return result;
    },

    /** Forgets counts with no failure for a day and no lock in force (the periodic sweep). */
    async sweep(): Promise<number> {
      const { rowCount } = await pool.query(
        `DELETE FROM signin_failures WHERE last_failure_at < now() - interval '1 day' AND (locked_until IS NULL OR locked_until < now())`,
      );
      return rowCount ?? 0;
    },
  };
}

export type Lockouts = ReturnType<typeof createLockouts>;
