import { z } from 'zod';
import { badRequest, FIELD_PROBLEM_CODES, type FieldProblem, type FieldProblemCode } from '../errors.ts';
import { isUuid } from '../repos/users.ts';

/** What a refinement hands zod (as `params`) for fieldProblems to report: its code, and the code's parameter. */
export type RuleParams = Pick<FieldProblem, 'code' | 'limit' | 'minimum' | 'maximum' | 'allowed' | 'canonical'>;

/** A refinement's message and code, as `refine` and `addIssue` take them. */
export const rule = (code: FieldProblemCode, message: string, more: Omit<RuleParams, 'code'> = {}) => ({ message, params: { code, ...more } });

/** Parses with what fieldProblems needs of each issue (the value, to tell a missing field from a wrong one). */
export function check<T extends z.ZodType>(schema: T, input: unknown) {
  return schema.safeParse(input, { reportInput: true });
}

const isCode = (value: unknown): value is FieldProblemCode => (FIELD_PROBLEM_CODES as readonly unknown[]).includes(value);

/** The code of a zod issue, by its kind and origin (never by its message), and the code's parameters. */
function coded(issue: z.core.$ZodIssue): RuleParams {
  switch (issue.code) {
    case 'invalid_type':
      return { code: issue.input === undefined ? 'required' : 'invalid-type' };
    case 'too_big': {
      const limit = Number(issue.maximum);
      if (issue.origin === 'array' || issue.origin === 'set') return { code: 'too-many', limit };
      if (issue.origin === 'string') return { code: 'too-long', limit };
      return { code: 'out-of-range', maximum: limit };
    }
    case 'too_small': {
      const limit = Number(issue.minimum);
      if (issue.origin === 'array' || issue.origin === 'set') return { code: 'too-few', limit };
      if (issue.origin === 'string') return limit === 1 ? { code: 'empty' } : { code: 'too-short', limit };
      return { code: 'out-of-range', minimum: limit };
    }
    case 'invalid_format':
      return { code: 'invalid-format' };
    case 'invalid_value':
      return { code: 'invalid-value', allowed: issue.values.map(String) };
    case 'invalid_union':
      return { code: 'invalid-type' };
    case 'custom': {
      const params = (issue.params ?? {}) as Partial<RuleParams>;
      const { code, ...more } = params;
      return { code: isCode(code) ? code : 'invalid-value', ...more };
    }
    default:
      return { code: 'invalid-value' };
  }
}

/**
 * Shared by the admin API and the CLI: zod issues turned into RFC 9457 field problems, so both report
 * a bad value the same way (a JSON path such as `redirectUris.0`, the rule's code, and its message).
 */
export function fieldProblems(error: z.ZodError, prefix: string[] = []): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: [...path, key].join('.'), code: 'unknown-field', message: `Unrecognized key "${key}": not a known field` });
    } else {
      const { code, ...more } = coded(issue);
      problems.push({ path: path.join('.'), code, message: issue.message, ...more });
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
  const result = check(schema, input);
  if (!result.success) throw invalid(fieldProblems(result.error, prefix));
  return result.data;
}

/** A superRefine that names each repeated item of a list ("... is listed twice"), at its index. */
export function noDuplicates(show: (value: string) => string = (value) => JSON.stringify(value)) {
  return (values: readonly string[], ctx: z.RefinementCtx) => {
    values.forEach((value, i) => {
      if (values.indexOf(value) !== i) ctx.addIssue({ code: 'custom', path: [i], ...rule('duplicate', `${show(value)} is listed twice`) });
    });
  };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const CONTROL = /\p{Cc}/u;
/** Half of a UTF-16 surrogate pair without its other half: Postgres would store U+FFFD in its place. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const NO_CONTROL = rule('control-characters', 'must not contain control characters');
const WELL_FORMED = rule('invalid-unicode', 'must be valid Unicode (it holds half of a surrogate pair)');

/** A display name or description: valid Unicode without control characters; `min` 1 means not blank either. */
export function text(min: number, max: number) {
  let schema = z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !CONTROL.test(s), NO_CONTROL)
    .refine((s) => !LONE_SURROGATE.test(s), WELL_FORMED);
  if (min > 0) {
    schema = z
      .string()
      .min(min, 'must not be empty')
      .max(max, `must be at most ${max} characters`)
      .refine((s) => s.length === 0 || s.trim().length > 0, rule('blank', 'must not be blank'))
      .refine((s) => !CONTROL.test(s), NO_CONTROL)
      .refine((s) => !LONE_SURROGATE.test(s), WELL_FORMED);
  }
  return schema;
}

/** A search text (`q`): 1 to 100 characters of valid Unicode without control characters. */
export const searchQuery = z
  .string()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .refine((s) => !CONTROL.test(s), NO_CONTROL)
  .refine((s) => !LONE_SURROGATE.test(s), WELL_FORMED)
  .optional();

/** `text` for a LIKE pattern that matches it literally (backslash is Postgres's default escape). */
export const likeLiteral = (text: string) => text.replace(/[\\%_]/g, '\\$&');

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

export const PAGE_SIZE_RULE = rule('out-of-range', `must be a whole number from 1 to ${MAX_PAGE_SIZE}`, { minimum: 1, maximum: MAX_PAGE_SIZE });
export const CURSOR_RULE = rule('invalid-format', 'is not a cursor this server gave out');

/** `limit` and `cursor` as they come in a query string (always strings: nothing is coerced silently). */
export const pageQuery = {
  limit: z
    .string()
    .refine((s) => /^[1-9][0-9]{0,2}$/.test(s) && Number(s) <= MAX_PAGE_SIZE, PAGE_SIZE_RULE)
    .optional(),
  cursor: z.string().refine((s) => decodeCursor(s) !== undefined, CURSOR_RULE).optional(),
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
