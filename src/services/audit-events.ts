import { z } from 'zod';
import { AUDIT_EVENT_TYPES, type AuditTrail, type StoredAuditEvent } from '../audit.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PAGE_SIZE_RULE, parseOrThrow, rule, type Page } from './validation.ts';

/** Reading the audit trail, with the admin API's rules for its query (newest events first). */

const instant = (what: string) =>
  z
    .string()
    .refine((s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)), rule('invalid-format', `must be an ISO-8601 date and time with its offset, e.g. 2026-01-31T12:00:00Z (${what})`))
    .optional();

const id = z.string().min(1, 'must not be empty').max(100, 'must be at most 100 characters').optional();

export const querySchema = z
  .strictObject({
    type: z.enum(AUDIT_EVENT_TYPES, { error: `must be one of ${AUDIT_EVENT_TYPES.join(', ')}` }).optional(),
    clientId: id,
    userId: id,
    since: instant('events at or after it'),
    until: instant('events before it'),
    limit: z
      .string()
      .refine((s) => /^[1-9][0-9]{0,2}$/.test(s) && Number(s) <= MAX_PAGE_SIZE, PAGE_SIZE_RULE)
      .optional(),
    cursor: z.string().refine((s) => decodeCursor(s) !== undefined, rule('invalid-format', 'is not a cursor this server gave out')).optional(),
  });

const encodeCursor = (eventId: string) => Buffer.from(`audit:${eventId}`).toString('base64url');
function decodeCursor(cursor: string): string | undefined {
  const match = /^audit:([1-9][0-9]{0,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return match && BigInt(match[1]!) <= 9_223_372_036_854_775_807n ? match[1] : undefined;
}

export function createAuditEventsService({ audit }: { audit: Pick<AuditTrail, 'list'> }) {
  return {
    /** One page of events, newest first; `query` is the query string as received. */
    async list(query: unknown): Promise<Page<StoredAuditEvent>> {
      const q = parseOrThrow(querySchema, query ?? {});
      const limit = q.limit ? Number(q.limit) : DEFAULT_PAGE_SIZE;
      const rows = await audit.list({
        type: q.type,
        clientId: q.clientId,
        userId: q.userId,
        since: q.since ? new Date(q.since) : undefined,
        until: q.until ? new Date(q.until) : undefined,
        before: q.cursor ? decodeCursor(q.cursor) : undefined,
        limit: limit + 1,
      });
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
    },
  };
}
