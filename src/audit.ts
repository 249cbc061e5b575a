import type { Pool, Queryable } from './db/pool.ts';
import type { Logger } from './logger.ts';
import type { KeyEvents, SigningKeyInfo } from './repos/keys.ts';

/**
 * The audit trail (docs/audit.md): admin changes, written in the transaction of the change; sign-ins,
 * logouts, failed client authentications, key rotations and (optionally) token issuance, written in
 * batches off the request path. No event ever holds a secret, a password, a hash or a token.
 */

/** Every event type Keyhold records; stable names, documented for programs to filter on. */
export const AUDIT_EVENT_TYPES = [
  'client.created',
  'client.updated',
  'client.deleted',
  'client.secret_created',
  'client.secret_deleted',
  'client.authentication_failed',
  'user.created',
  'user.updated',
  'user.deleted',
  'user.unlocked',
  'user.locked',
  'signin.succeeded',
  'signin.failed',
  'logout',
  'key.rotated',
  'key.retired',
  'token.issued',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Who acted: an administrator or automation client through the admin API, the CLI, Keyhold itself, or someone not signed in. */
export type AuditActor =
  | { kind: 'user'; id: string; username?: string }
  | { kind: 'client'; id: string }
  | { kind: 'cli' }
  | { kind: 'system' }
  | { kind: 'anonymous' };

export interface AuditTarget {
  kind: 'client' | 'user' | 'key' | 'secret';
  id: string;
  name?: string;
}

export interface AuditEvent {
  type: AuditEventType;
  actor: AuditActor;
  target?: AuditTarget | undefined;
  /** The client and the user the event is about, for filtering. */
  clientId?: string | null | undefined;
  userId?: string | null | undefined;
  address?: string | null | undefined;
  outcome: 'success' | 'failure';
  details?: Record<string, unknown>;
}

export interface StoredAuditEvent {
  id: string;
  at: string;
  type: string;
  actor: AuditActor;
  target: AuditTarget | null;
  clientId: string | null;
  userId: string | null;
  address: string | null;
  outcome: 'success' | 'failure';
  details: Record<string, unknown>;
}

export interface AuditQuery {
  type?: string | undefined;
  clientId?: string | undefined;
  userId?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  limit: number;
  /** Events older than this id (the cursor): newest first. */
  before?: string | undefined;
}

/** Events queued off the request path are written at least this often, or as soon as this many wait. */
const FLUSH_INTERVAL_MS = 1_000;
const FLUSH_SIZE = 200;
/** The most events kept waiting while the database does not answer; beyond, the oldest are dropped (and counted in the log). */
const MAX_QUEUED = 10_000;

const COLUMNS = 'type, actor, target, client_id, user_id, address, outcome, details';

function rowValues(events: readonly AuditEvent[]) {
  return [
    events.map((e) => e.type),
    events.map((e) => JSON.stringify(e.actor)),
    events.map((e) => (e.target ? JSON.stringify(e.target) : null)),
    events.map((e) => e.clientId ?? null),
    events.map((e) => e.userId ?? null),
    events.map((e) => e.address ?? null),
    events.map((e) => e.outcome),
    events.map((e) => JSON.stringify(e.details ?? {})),
  ];
}

async function insert(db: Queryable, events: readonly AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db.query({
    name: 'keyhold-audit-insert',
    text: `INSERT INTO audit_events (${COLUMNS})
           SELECT * FROM unnest($1::text[], $2::jsonb[], $3::jsonb[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[])`,
    values: rowValues(events),
  });
}

export function createAuditTrail(pool: Pool, { logger, retentionDays }: { logger?: Logger; retentionDays: number }) {
  let queue: AuditEvent[] = [];
  let dropped = 0;
  let flushing: Promise<void> | undefined;

  async function flush(): Promise<void> {
    if (flushing) return flushing;
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    flushing = (async () => {
      try {
        await insert(pool, batch);
      } catch (err) {
        // Kept for the next flush (the database may be back by then), within a bound.
        queue = [...batch, ...queue];
        if (queue.length > MAX_QUEUED) {
          dropped += queue.length - MAX_QUEUED;
          queue = queue.slice(queue.length - MAX_QUEUED);
        }
        logger?.warn({ err, waiting: queue.length, dropped }, 'audit events could not be written yet');
      } finally {
        flushing = undefined;
      }
    })();
    return flushing;
  }

  // The flush timer starts with the first queued event: users that only record in transactions (the
  // CLI) never start it.
  let timer: NodeJS.Timeout | undefined;

  return {
    /** Writes an event on `db`: inside a transaction, it commits or rolls back with the change it records. */
    async record(db: Queryable, event: AuditEvent): Promise<void> {
      await insert(db, [event]);
    },

    /** Queues an event, written with others in one statement within a second, off the request path. */
    later(event: AuditEvent): void {
      if (!timer) {
        timer = setInterval(() => void flush(), FLUSH_INTERVAL_MS);
        timer.unref();
      }
      queue.push(event);
      if (queue.length >= FLUSH_SIZE) void flush();
    },

    /** Writes every queued event now (tests, shutdown). */
    flush,

    async list(query: AuditQuery): Promise<StoredAuditEvent[]> {
      const { rows } = await pool.query<{
        id: string;
        at: Date;
        type: string;
        actor: AuditActor;
        target: AuditTarget | null;
        client_id: string | null;
        user_id: string | null;
        address: string | null;
        outcome: 'success' | 'failure';
        details: Record<string, unknown>;
      }>(
        `SELECT id::text, at, ${COLUMNS} FROM audit_events
         WHERE ($1::text IS NULL OR type = $1)
           AND ($2::text IS NULL OR client_id = $2)
           AND ($3::text IS NULL OR user_id = $3)
           AND ($4::timestamptz IS NULL OR at >= $4)
           AND ($5::timestamptz IS NULL OR at < $5)
           AND ($6::bigint IS NULL OR id < $6)
         ORDER BY id DESC LIMIT $7`,
        [query.type ?? null, query.clientId ?? null, query.userId ?? null, query.since ?? null, query.until ?? null, query.before ?? null, query.limit],
      );
      return rows.map((r) => ({
        id: r.id,
        at: r.at.toISOString(),
        type: r.type,
        actor: r.actor,
        target: r.target,
        clientId: r.client_id,
        userId: r.user_id,
        address: r.address,
        outcome: r.outcome,
        details: r.details,
      }));
    },

    /** Removes events older than the retention (the periodic sweep), in batches. */
    async sweep(batch = 5_000): Promise<number> {
      const { rowCount } = await pool.query(
        `DELETE FROM audit_events WHERE id IN (
           SELECT id FROM audit_events WHERE at < now() - make_interval(days => $1) ORDER BY id LIMIT $2)`,
        [retentionDays, batch],
      );
      return rowCount ?? 0;
    },

    /** Stops the background flush and writes what is queued. */
    async close(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush();
    },
  };
}

export type AuditTrail = ReturnType<typeof createAuditTrail>;

/** The signing-key rotations and retirements, recorded in the transaction that makes them (repos/keys.ts). */
export function auditKeyEvents(audit: Pick<AuditTrail, 'record'>, actor: AuditActor): KeyEvents {
  const key = (k: SigningKeyInfo) => ({ kid: k.kid, alg: k.alg, activatesAt: k.activatesAt.toISOString() });
  return {
    async onRotated(event, db) {
      await audit.record(db, {
        type: 'key.rotated',
        actor,
        outcome: 'success',
        details: { reason: event.reason, keys: event.keys.map(key), replaced: event.replaced.map((k) => k.kid), dropped: event.dropped.map((k) => k.kid) },
      });
    },
    async onRetired({ key: retired }, db) {
      await audit.record(db, { type: 'key.retired', actor, target: { kind: 'key', id: retired.kid }, outcome: 'success', details: { alg: retired.alg } });
    },
  };
}
