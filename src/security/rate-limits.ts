import type { Pool } from '../db/pool.ts';

/** Where an instance that counts a bucket over its limit tells the others (payload: `<until ms> <bucket>`). */
export const RATE_LIMIT_CHANNEL = 'keyhold_rate_limits';

/** Every limit is counted over a fixed window of this many seconds. */
const WINDOW_SECONDS = 60;

export interface Hit {
  /** Hits in the current window, this one included. */
  count: number;
  /** False once the count is beyond the limit. */
  allowed: boolean;
  /** Seconds until the window ends (at least 1). */
  retryAfter: number;
}

export interface RateLimiter {
  /**
   * Counts one hit on `bucket` in the shared counter (one statement). Beyond `limit`, the hit is not
   * allowed and every instance learns the bucket is closed until its window ends.
   */
  hit(bucket: string, limit: number): Promise<Hit>;
  /** Counts one hit on each of several (distinct) buckets, in one statement; the hits in the same order. */
  hitEach(buckets: readonly string[], limit: number): Promise<Hit[]>;
  /** Seconds the bucket stays closed, as far as this instance has heard; 0 when open. Costs no query. */
  closedFor(bucket: string): number;
  /** Hears a closing announced by any instance (wire to a LISTEN on RATE_LIMIT_CHANNEL). */
  heard(payload: string): void;
  /** Forgets the counters whose window ended long ago (the periodic sweep). */
  sweep(): Promise<number>;
}

/** The most closed buckets an instance remembers; beyond, it relies on counting alone. */
const MAX_REMEMBERED = 10_000;

/**
 * Rate limits counted in Postgres: one row per bucket, a fixed one-minute window, incremented
 * atomically by whichever instance sees the hit. A hit beyond the limit is announced by NOTIFY, so
 * every instance refuses the bucket before doing any work for it (closedFor), with no query on the
 * path of requests that are not limited. An instance whose LISTEN connection is down still counts
 * every hit it sees and refuses beyond the limit; it only stops refusing ahead of counting.
 */
export function createRateLimiter(pool: Pool, now: () => number = Date.now): RateLimiter {
  const closed = new Map<string, number>();

  const remember = (bucket: string, until: number) => {
    if (until <= now()) return;
    if (closed.size >= MAX_REMEMBERED) {
      for (const [key, at] of closed) if (at <= now()) closed.delete(key);
      if (closed.size >= MAX_REMEMBERED) closed.clear();
    }
    closed.set(bucket, Math.max(until, closed.get(bucket) ?? 0));
  };

  return {
    async hit(bucket, limit) {
      return (await this.hitEach([bucket], limit))[0]!;
    },

    async hitEach(buckets, limit) {
      const { rows } = await pool.query<{ bucket: string; hits: number; until_ms: string }>({
        name: 'keyhold-rate-limit-hit',
        text: `WITH hit AS (
                 INSERT INTO rate_limits AS r (bucket, window_start, hits)
                 SELECT bucket, now(), 1 FROM unnest($1::text[]) AS bucket
                 ON CONFLICT (bucket) DO UPDATE SET
                   hits = CASE WHEN r.window_start <= now() - make_interval(secs => $3) THEN 1 ELSE r.hits + 1 END,
                   window_start = CASE WHEN r.window_start <= now() - make_interval(secs => $3) THEN now() ELSE r.window_start END
                 RETURNING bucket, hits, window_start
               )
               SELECT bucket, hits,
                      floor(extract(epoch FROM window_start + make_interval(secs => $3)) * 1000)::bigint AS until_ms,
                      CASE WHEN hits > $2 THEN pg_notify('${RATE_LIMIT_CHANNEL}',
                        floor(extract(epoch FROM window_start + make_interval(secs => $3)) * 1000)::bigint || ' ' || bucket) END
               FROM hit`,
        values: [buckets, limit, WINDOW_SECONDS],
      });
      const byBucket = new Map(rows.map((row) => [row.bucket, row]));
      return buckets.map((bucket) => {
        const row = byBucket.get(bucket)!;
        const until = Number(row.until_ms);
        const allowed = row.hits <= limit;
        if (!allowed) remember(bucket, until);
        return { count: row.hits, allowed, retryAfter: Math.max(1, Math.ceil((until - now()) / 1000)) };
      });
    },

    closedFor(bucket) {
      const until = closed.get(bucket);
      if (until === undefined) return 0;
      if (until <= now()) {
        closed.delete(bucket);
        return 0;
      }
      return Math.ceil((until - now()) / 1000);
    },

    heard(payload) {
      const space = payload.indexOf(' ');
      const until = Number(payload.slice(0, space));
      if (space > 0 && Number.isFinite(until)) remember(payload.slice(space + 1), until);
    },

    async sweep() {
      const { rowCount } = await pool.query(
        `DELETE FROM rate_limits WHERE window_start < now() - make_interval(secs => $1)`,
        [WINDOW_SECONDS * 2],
      );
      return rowCount ?? 0;
    },
  };
}
