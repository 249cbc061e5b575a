import fc from 'fast-check';
import type { Test } from 'tap';
import type { Pool } from '../../src/db/pool.ts';

/**
 * Shared by the property-based suites (test/fuzz/*): running a property inside a tap test, the checks
 * every answer to arbitrary input must pass, and a snapshot of everything a request could change.
 *
 * Runs use a fresh random seed each time; a failure prints the shrunk counterexample with its seed and
 * path. FUZZ_SEED (and FUZZ_PATH) replay a reported failure.
 */

const replay = process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED), ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}) } : {};

/** Checks `predicate` on `numRuns` values of `arbitrary`; a counterexample fails the tap test with fast-check's report. */
export async function holds<T>(t: Test, name: string, numRuns: number, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>): Promise<void> {
  const details = await fc.check(fc.asyncProperty(arbitrary, predicate), { numRuns, ...replay });
  if (details.failed) {
    const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    t.fail(`${name}\n${(fc.defaultReportMessage(details) ?? '').slice(0, 3000)}\nError: ${error}`);
  }
  else t.pass(`${name}: ${details.numRuns} runs`);
}

/** Throws (failing the current run) when `ok` is false. */
export function expect(ok: boolean, message: string, context?: unknown): asserts ok {
  if (!ok) throw new Error(context === undefined ? message : `${message}\n${typeof context === 'string' ? context : JSON.stringify(context)}`.slice(0, 4000));
}

/**
 * What a stack trace or an internal error looks like in an answer: a stack frame, a path on the server,
 * an exception's name. A pattern that already matches the request itself is not held against the
 * answer (a value echoed back, escaped, in an error page is not a leak).
 */
const LEAKS: RegExp[] = [
  /\bat (?:async )?[\w$.<>]+ \(/,
  /\n\s+at /,
  /(?:node_modules|node:internal|file:\/\/\/|\/src\/|\.ts:\d+|\.js:\d+)/,
  /\b(?:Type|Reference|Range|Syntax|Internal|Database|Aggregate)?Error: /,
  /\bERR_[A-Z_]+\b/,
  /\bat new \w/,
];

export function leak(body: string, request: string): RegExp | undefined {
  return LEAKS.find((pattern) => pattern.test(body) && !pattern.test(request));
}

/** The request-independent checks: never 5xx, no stack or internal error in the answer. */
export function sane(status: number, body: string, request: string): void {
  expect(status < 500, `answered ${status}`, body.slice(0, 2000));
  const found = leak(body, request);
  expect(found === undefined, `the answer leaks internals (${found})`, body.slice(0, 2000));
}

/**
 * Everything a request could change: clients, users, client secrets (less lastUsedAt, which a successful
 * client authentication records even when the request then fails), and the provider's rows (a session
 * less its expiry, which every request that carries its cookie extends).
 */
export interface Snapshot {
  tables: string;
  payloads: Map<string, { row: string; expiresAt: number | null }>;
}

export async function snapshot(pool: Pool): Promise<Snapshot> {
  const { rows } = await pool.query<{ tables: string; payloads: Array<{ id: string; row: string; expires_at: string | null }> | null }>(
    `SELECT
       json_build_array(
         (SELECT coalesce(json_agg(c ORDER BY c.id), '[]') FROM clients c),
         (SELECT coalesce(json_agg(u ORDER BY u.id), '[]') FROM users u),
         (SELECT coalesce(json_agg(to_jsonb(s) - 'last_used_at' ORDER BY s.id), '[]') FROM client_secrets s)
       )::text AS tables,
       (SELECT json_agg(json_build_array(
          p.id,
          (CASE WHEN p.model = 'Session' THEN (to_jsonb(p) - 'expires_at') #- '{payload,exp}' ELSE to_jsonb(p) END)::text,
          p.expires_at))
        FROM oidc_payloads p) AS payloads`,
  );
  const payloads = new Map<string, { row: string; expiresAt: number | null }>();
  for (const entry of (rows[0]?.payloads ?? []) as unknown as Array<[string, string, string | null]>) {
    payloads.set(entry[0], { row: entry[1], expiresAt: entry[2] === null ? null : new Date(entry[2]).getTime() });
  }
  return { tables: rows[0]!.tables, payloads };
}

/**
 * Throws unless nothing changed between the two snapshots: the same clients, users and secrets, no new
 * or changed provider row. A provider row may vanish only if it had expired (the sweep removes those).
 */
export function unchanged(before: Snapshot, after: Snapshot, what: string): void {
  expect(before.tables === after.tables, `${what} changed clients, users or secrets`);
  for (const [id, entry] of after.payloads) {
    const was = before.payloads.get(id);
    expect(was !== undefined, `${what} stored a new provider row`, entry.row);
    expect(was.row === entry.row, `${what} changed a provider row`, { before: was.row, after: entry.row });
  }
  for (const [id, entry] of before.payloads) {
    if (after.payloads.has(id)) continue;
    expect(entry.expiresAt !== null && entry.expiresAt <= Date.now(), `${what} deleted a provider row`, entry.row);
  }
}

/** U+0000, another control character, a line or byte-order mark, or half of a surrogate pair, in a string. */
export const oddText: fc.Arbitrary<string> = fc
  .tuple(
    fc.string({ maxLength: 10 }),
    fc.oneof(fc.constantFrom('\u0000', '\u0000', '\u0001', '\u001f', '\u007f', '\u0085', '\u2028', '\ufeff', '\uffff'), fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit))),
    fc.string({ maxLength: 10 }),
  )
  .map(([a, odd, b]) => `${a}${odd}${b}`);

/** Strings that tend to break things: empty, huge, control characters and NUL, lone surrogates, markup, paths. */
export const nasty: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udfffy',
    '\u202e\u0000',
    '🦄',
    'null',
    'undefined',
    'true',
    '0',
    '-1',
    '1e309',
    'NaN',
    '[]',
    '{}',
    '__proto__',
    'constructor',
    '<script>alert(1)</script>',
    '../../etc/passwd',
    '%00',
    '%',
    '%zz',
    '\r\n',
    "' OR 1=1 --",
    'x'.repeat(5000),
    'é'.repeat(70_000),
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  oddText,
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ maxLength: 300 }),
);

/** base64url of arbitrary JSON, and of the cursor shape ([date, id]) with values Postgres may not hold. */
export const cursorLike: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: nasty },
  { weight: 1, arbitrary: fc.base64String({ maxLength: 80 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.oneof(
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          fc.constantFrom('+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '0000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z', '2024-02-30', '1'),
          fc.integer().map(String),
          nasty,
        ),
        fc.oneof(
          fc.uuid(),
          fc.constant('-'.repeat(36)),
          fc.stringMatching(/^[0-9a-f-]{36}$/),
          fc.uuid().map((u) => u.toUpperCase()),
          nasty,
        ),
      )
      .map((pair) => Buffer.from(JSON.stringify(pair)).toString('base64url')),
  },
);

/** encodeURIComponent that takes any string (a lone surrogate is sent as U+FFFD's bytes, as a browser would). */
export function percentEncode(value: string): string {
  return encodeURIComponent(value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
}

/**
 * The fuzzed instance's limits: hundreds of requests a minute from one address, most of them refused,
 * are what the rate limits and lockouts exist to stop (tested on their own). Here
 * they are off, so every input reaches the code that parses it.
 */
export const FUZZ_ENV = { RATE_LIMIT_SIGNIN_PER_MINUTE: '0', RATE_LIMIT_TOKEN_FAILURES_PER_MINUTE: '0', LOCKOUT_THRESHOLD: '1000' };
