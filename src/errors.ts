import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable, reportOutage, RETRY_AFTER_SECONDS } from './db/unavailable.ts';

/** The rules a field may break, each named by a stable code programs may switch on (docs/admin-api.md). */
export const FIELD_PROBLEM_CODES = [
  'required', 'invalid-type', 'not-an-object', 'unknown-field', 'read-only', 'fixed', 'not-applicable',
  'empty', 'blank', 'too-long', 'too-short', 'too-many', 'too-few', 'out-of-range', 'invalid-value', 'duplicate',
  'control-characters', 'invalid-unicode', 'invalid-format', 'past-date', 'conflicting-fields',
  'not-absolute-url', 'wildcard', 'userinfo', 'fragment', 'not-canonical', 'insecure-http', 'scheme-not-allowed',
  'path-required', 'not-an-origin', 'loopback-mix',
] as const;
export type FieldProblemCode = (typeof FIELD_PROBLEM_CODES)[number];

/**
 * One problem in a request: where (a JSON path), which rule it breaks (`code`, stable) and a message for
 * people; `limit`, `minimum` and `maximum`, `allowed` or `canonical` where the rule has one.
 */
export interface FieldProblem {
  path: string;
  code: FieldProblemCode;
  message: string;
  limit?: number;
  minimum?: number;
  maximum?: number;
  allowed?: string[];
  canonical?: string;
}

/**
 * An error the API answers as RFC 9457 problem+json. `code` is stable: clients may switch on it;
 * `type` is derived from it.
 */
export class ProblemError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly errors: FieldProblem[] | undefined;
  /** Members of the problem beyond RFC 9457's own (`current` of a 412). */
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    status: number,
    code: string,
    title: string,
    detail: string,
    errors?: FieldProblem[],
    { extra, headers }: { extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
    this.status = status;
    this.code = code;
    this.title = title;
    this.errors = errors;
    this.extra = extra;
    this.headers = headers;
  }
}

export const badRequest = (detail: string, errors?: FieldProblem[]) =>
  new ProblemError(400, 'validation-failed', 'Your request is not valid', detail, errors);
export const notFound = (detail: string) => new ProblemError(404, 'not-found', 'Not found', detail);
export const conflict = (detail: string) => new ProblemError(409, 'conflict', 'Conflict', detail);
export const unauthorized = (detail: string) => new ProblemError(401, 'unauthorized', 'Authentication required', detail);
export const forbidden = (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail);

/** A strong entity tag of a version, as ETag and If-Match write it. */
export const entityTag = (version: number) => `"${version}"`;

/** A 412: `what` changed since the version the caller read; `current` is it as a GET answers it now. */
export const preconditionFailed = (what: string, expected: string, current: { version: number }) =>
  new ProblemError(
    412,
    'precondition-failed',
    'Precondition failed',
    `${what} changed since ${expected}: it is at version ${current.version} now; read it again and reapply your change`,
    undefined,
    { extra: { current }, headers: { etag: entityTag(current.version) } },
  );

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldProblem[];
  current?: unknown;
}

/**
 * The single place that decides what an error exposes. Known errors keep their message; a database
 * outage is a 503 (sent with Retry-After); anything else becomes a 500 whose message is logged, never sent.
 */
function toProblem(err: unknown): Problem {
  if (isDatabaseUnavailable(err)) {
    return {
      type: 'https://keyhold.dev/problems/database-unavailable',
      title: 'Service unavailable',
      status: 503,
      detail: `Keyhold cannot reach its database right now; try again in ${RETRY_AFTER_SECONDS} seconds`,
    };
  }
  if (err instanceof ProblemError) {
    return {
      type: `https://keyhold.dev/problems/${err.code}`,
      title: err.title,
      status: err.status,
      detail: err.message,
      ...(err.errors ? { errors: err.errors } : {}),
      ...err.extra,
    };
  }
  const fe = err as Partial<FastifyError>;
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { type: 'https://keyhold.dev/problems/payload-too-large', title: 'Payload too large', status: 413, detail: 'the request body is larger than 1 MiB' };
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { type: 'https://keyhold.dev/problems/unsupported-media-type', title: 'Unsupported media type', status: 415, detail: 'send the body as application/json' };
  }
  if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (fe.statusCode === 400 && err instanceof SyntaxError)) {
    return { type: 'https://keyhold.dev/problems/malformed-json', title: 'Malformed JSON', status: 400, detail: 'the request body is not valid JSON' };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { type: 'about:blank', title: 'Bad request', status: fe.statusCode, detail: fe.message ?? 'bad request' };
  }
  return { type: 'about:blank', title: 'Internal server error', status: 500, detail: 'something went wrong on our side; it has been logged' };
}

export function sendProblem(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const problem = toProblem(err);
  if (problem.status === 503) {
    reportOutage(request.log, err);
    reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  } else if (problem.status >= 500) request.log.error({ err }, 'request failed');
  if (err instanceof ProblemError && err.headers) reply.headers(err.headers);
  return reply.code(problem.status).type('application/problem+json').send(problem);
}
