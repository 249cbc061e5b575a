import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable, reportOutage, RETRY_AFTER_SECONDS } from './db/unavailable.ts';

/** One problem in a request body: where (a JSON path) and which rule it breaks. */
export interface FieldProblem {
  path: string;
  message: string;
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

  constructor(status: number, code: string, title: string, detail: string, errors?: FieldProblem[]) {
    super(detail);
    this.name = 'ProblemError';
    this.status = status;
    this.code = code;
    this.title = title;
    this.errors = errors;
  }
}

export const badRequest = (detail: string, errors?: FieldProblem[]) =>
  new ProblemError(400, 'validation-failed', 'Your request is not valid', detail, errors);
export const notFound = (detail: string) => new ProblemError(404, 'not-found', 'Not found', detail);
export const conflict = (detail: string) => new ProblemError(409, 'conflict', 'Conflict', detail);
export const unauthorized = (detail: string) => new ProblemError(401, 'unauthorized', 'Authentication required', detail);
export const forbidden = (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail);

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldProblem[];
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
  return reply.code(problem.status).type('application/problem+json').send(problem);
}
