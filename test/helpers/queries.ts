import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Test } from 'tap';

/**
 * Counts database round trips made in this process (every Keyhold started by startTestApp runs
 * in-process): `pg.Client.prototype.query` is wrapped for the life of the test, and each call made
 * while a recording is open is kept with its SQL text. A pool's `query` is one client `query`; a
 * transaction is BEGIN, its statements and COMMIT, each counted.
 */

/** The expired-row sweep runs on a timer (every 60 s) on every instance, whatever the tests do. */
const SWEEP = /^\s*DELETE FROM oidc_payloads WHERE id IN \(\s*SELECT id FROM oidc_payloads WHERE expires_at < now\(\)/;
/** So are the signing keys read again (every 60 s, and when a key is due to change state: oidc/live-keys.ts). */
const KEYS_READ = /^\s*SELECT id, kind, alg, material, sealed, .* FROM keys ORDER BY created_at DESC/;

/** And the audit trail writes the events it queued, in batches, on a timer of its own (audit.ts). */
const AUDIT_FLUSH = /^\s*INSERT INTO audit_events /;

/** One query: its SQL text and its parameters. */
export interface RecordedQuery {
  sql: string;
  values: unknown[];
}

export interface QueryRecorder {
  /**
   * Runs `fn` (one HTTP request: send it and read the whole answer), then waits `settleMs` for work the
   * request set off asynchronously, and returns every query made meanwhile (less the sweep, key reads and audit flushes).
   */
  during(fn: () => Promise<unknown>, settleMs?: number): Promise<RecordedQuery[]>;
}

type Query = (this: pg.Client, ...args: unknown[]) => unknown;

function recorded(args: unknown[]): RecordedQuery {
  const [first, second] = args;
  if (typeof first === 'string') return { sql: first, values: Array.isArray(second) ? second : [] };
  if (first && typeof first === 'object' && 'text' in first && typeof first.text === 'string') {
    const values = 'values' in first && Array.isArray(first.values) ? first.values : Array.isArray(second) ? second : [];
    return { sql: first.text, values };
  }
  return { sql: String(first), values: [] };
}

/** One line per query, whitespace collapsed, for t.comment. */
export function oneLine(sql: string, max = 160): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

export function recordQueries(t: Test): QueryRecorder {
  const prototype = pg.Client.prototype as unknown as { query: Query };
  const original = prototype.query;
  let open: RecordedQuery[] | undefined;
  prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
    if (open) {
      const query = recorded(args);
      if (!SWEEP.test(query.sql) && !KEYS_READ.test(query.sql) && !AUDIT_FLUSH.test(query.sql)) open.push(query);
    }
    return original.apply(this, args);
  };
  t.teardown(() => {
    prototype.query = original;
  });
  return {
    async during(fn, settleMs = 50) {
      if (open) throw new Error('recordings do not nest');
      const seen: RecordedQuery[] = [];
      open = seen;
      try {
        await fn();
        await sleep(settleMs);
      } finally {
        open = undefined;
      }
      return seen;
    },
  };
}
