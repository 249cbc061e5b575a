import { z } from 'zod';
import { badRequest, type FieldProblem } from '../errors.ts';
import { isUuid } from '../repos/users.ts';

/**
 * Shared by the admin API and the CLI: zod issues turned into RFC 9457 field problems, so both report
 * a bad value the same way (a JSON path such as `redirectUris.0`, and the rule it breaks).
 */
export function fieldProblems(error: z.ZodError, prefix: string[] = []): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: [...path, key].join('.'), message: `Unrecognized key "${key}": not a known field` });
    } else {
      problems.push({ path: path.join('.'), message: issue.message });
    }
  }
  return problems;
}

/** A 400 naming every field and the rule it breaks. */
export function invalid(problems: FieldProblem[]) {
  const detail = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ');
  return badRequest(detail, problems);
}

/** Parses `input` with `schema` or throws a 400 ProblemError listing every problem. */
export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown, prefix: string[] = []): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw invalid(fieldProblems(result.error, prefix));
  return result.data;
}

/** A superRefine that names each repeated item of a list ("... is listed twice"), at its index. */
export function noDuplicates(show: (value: string) => string = (value) => JSON.stringify(value)) {
  return (values: readonly string[], ctx: z.RefinementCtx) => {
    values.forEach((value, i) => {
      if (values.indexOf(value) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `${show(value)} is listed twice` });
    });
  };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const CONTROL = /\p{Cc}/u;
/** Half of a UTF-16 surrogate pair without its other half: Postgres would store U+FFFD in its place. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const WELL_FORMED = 'must be valid Unicode (it holds half of a surrogate pair)';

/** A display name or description: valid Unicode without control characters; `min` 1 means not blank either. */
export function text(min: number, max: number) {
  let schema = z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters')
    .refine((s) => !LONE_SURROGATE.test(s), WELL_FORMED);
  if (min > 0) {
    schema = z
      .string()
      .min(min, 'must not be empty')
      .max(max, `must be at most ${max} characters`)
      .refine((s) => s.length === 0 || s.trim().length > 0, 'must not be blank')
      .refine((s) => !CONTROL.test(s), 'must not contain control characters')
      .refine((s) => !LONE_SURROGATE.test(s), WELL_FORMED);
  }
  return schema;
}

/** Opaque keyset-pagination cursors: (createdAt, id) of the last item of a page. */
export function encodeCursor(item: { createdAt: Date; id: string }): string {
  return Buffer.from(JSON.stringify([item.createdAt.toISOString(), item.id])).toString('base64url');
}

/**
 * The dates encodeCursor writes for a row Postgres holds: `toISOString()` of a year from 0000 to 9999
 * (JavaScript dates reach years Postgres cannot hold, which it refuses, and write them as +YYYYYY).
 */
const CURSOR_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The cursor's position, or undefined unless it is one encodeCursor could have written for a stored row. */
export function decodeCursor(cursor: string): { createdAt: Date; id: string } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [date, id] = value as unknown[];
  if (typeof date !== 'string' || typeof id !== 'string' || !CURSOR_DATE.test(date) || !isUuid(id)) return undefined;
  const createdAt = new Date(date);
  // A date that does not exist (2024-02-30) parses as another, or not at all: it must round-trip.
  if (Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== date) return undefined;
  return { createdAt, id };
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;

/** `limit` and `cursor` as they come in a query string (always strings: nothing is coerced silently). */
export const pageQuery = {
  limit: z
    .string()
    .refine((s) => /^[1-9][0-9]{0,2}$/.test(s) && Number(s) <= MAX_PAGE_SIZE, `must be a whole number from 1 to ${MAX_PAGE_SIZE}`)
    .optional(),
  cursor: z.string().refine((s) => decodeCursor(s) !== undefined, 'is not a cursor this server gave out').optional(),
};

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Reads one page (fetching one row more than asked, to know whether another page follows). */
export async function page<R extends { createdAt: Date; id: string }, T>(
  query: { limit?: string | undefined; cursor?: string | undefined },
  fetch: (args: { limit: number; after?: { createdAt: Date; id: string } }) => Promise<R[]>,
  serialize: (row: R) => T,
): Promise<Page<T>> {
  const limit = query.limit ? Number(query.limit) : DEFAULT_PAGE_SIZE;
  const after = query.cursor ? decodeCursor(query.cursor) : undefined;
  const rows = await fetch(after ? { limit: limit + 1, after } : { limit: limit + 1 });
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items: items.map(serialize), nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}
