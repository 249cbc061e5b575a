/**
 * The one place that decides whether an error means "the database cannot be reached right now" (an
 * outage: the server is down, restarting, refusing connections, or a connection was cut), as opposed to
 * a bug or a bad request. Every error path asks it: the admin API answers 503 problem+json, the pages a
 * 503 page, the token endpoint (and introspection, revocation, userinfo) 503 `temporarily_unavailable`;
 * none of them ever turns an outage into a failed authentication.
 */

/** What every 503 for an outage tells the caller to wait before trying again. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * Network failures on the way to the server: Node's system error codes, raised by a socket call
 * (`syscall`: connect, read, write, getaddrinfo). A client of Keyhold hanging up raises ECONNRESET
 * too, but without a syscall (`aborted`): that is no outage.
 */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of an outage. Class 08 (connection exception) is matched as a class; besides it:
 * 57P01 admin_shutdown (the server is stopping and ends every session), 57P02 crash_shutdown (another
 * backend crashed), 57P03 cannot_connect_now (starting up, shutting down, in recovery), 53300
 * too_many_connections.
 */
const OUTAGE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** pg and pg-pool raise these without a code when a connection ends or cannot be had in time. */
const DRIVER_MESSAGES = new Set([
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
  'timeout expired',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
]);

/** Errors raised while a connection was being opened (see pool.ts): whatever their code, the database could not be had. */
const connectFailures = new WeakSet<object>();

/** Marks an error raised while opening a connection (refused, authentication, database not accepting connections...). */
export function markConnectFailure<T>(err: T): T {
  if (typeof err === 'object' && err !== null) connectFailures.add(err);
  return err;
}

function isOutage(err: object): boolean {
  if (connectFailures.has(err)) return true;
  const { code, syscall } = err as { code?: unknown; syscall?: unknown };
  if (typeof code === 'string' && NETWORK_CODES.has(code) && typeof syscall === 'string') return true;
  if (typeof code === 'string' && (OUTAGE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && DRIVER_MESSAGES.has(message);
}

/**
 * True when `err`, or an error it wraps (`cause`, an AggregateError's `errors`), says the database
 * cannot be reached right now. Query errors (a syntax error, a constraint violated) are not outages.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const seen = new Set<object>();
  const visit = (e: unknown, depth: number): boolean => {
    if (typeof e !== 'object' || e === null || seen.has(e) || depth > 8) return false;
    seen.add(e);
    if (isOutage(e)) return true;
    if (visit((e as { cause?: unknown }).cause, depth + 1)) return true;
    const inner = (e as { errors?: unknown }).errors;
    return Array.isArray(inner) && inner.some((x) => visit(x, depth + 1));
  };
  return visit(err, 0);
}

interface WarnLogger {
  warn(obj: object, msg: string): void;
}

/** The first outage error is logged at once; later ones at most once per this many ms, with a count. */
const REPORT_EVERY_MS = 10_000;
let lastReport = 0;
let unreported = 0;

/**
 * Logs that a request was answered 503 because the database is unavailable: the first at once, then at
 * most one line every ten seconds with the number of such answers since, so an outage under load does
 * not flood the log (every request is still in the request log with its 503).
 */
export function reportOutage(logger: WarnLogger, err: unknown, now = Date.now()): void {
  if (now - lastReport < REPORT_EVERY_MS) {
    unreported++;
    return;
  }
  const answered = unreported + 1;
  lastReport = now;
  unreported = 0;
  logger.warn({ err, answered503: answered }, 'the database is unavailable: answering 503 until it is back');
}
