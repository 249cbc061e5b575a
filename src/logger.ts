import { isatty } from 'node:tty';
import pino, { type Logger, type LoggerOptions } from 'pino';
import { prettyFactory } from 'pino-pretty';

/**
 * Paths pino censors wherever they appear in a logged object. Secrets, passwords, tokens, cookies and
 * Authorization headers must never reach a log line.
 */
const redactPaths = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'value',
  'secret.value',
  '*.clientSecret',
  'client_secret',
  '*.client_secret',
  'token',
  '*.token',
  'access_token',
  'refresh_token',
  'id_token',
  'code',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'databaseUrl',
  'adminPassword',
];

function loggerOptions(level: LoggerOptions['level']): LoggerOptions {
  return {
    level: level ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { service: 'keyhold' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: {
      // Query strings on OIDC endpoints carry codes and tokens; log the path only.
      req: (req: { id?: unknown; method?: string; url?: string; ip?: string }) => ({
        id: req.id,
        method: req.method,
        path: typeof req.url === 'string' ? req.url.split('?')[0] : undefined,
        ip: req.ip,
      }),
      err: pino.stdSerializers.err,
    },
  };
}

export interface LogFormat {
  /**
   * Human-readable lines (pino-pretty) instead of one JSON object a line. Defaults to whether the
   * destination is a terminal: a file descriptor that is a TTY. Redaction applies before either format.
   */
  pretty?: boolean;
}

/**
 * A logger writing to `destination`: a stream, or a file descriptor (1, stdout, by default; the CLI
 * logs to 2, stderr, keeping stdout for its answer). JSON lines unless `pretty` (see LogFormat).
 */
export function createLogger(
  level: LoggerOptions['level'],
  destination: pino.DestinationStream | number = 1,
  { pretty = typeof destination === 'number' && isatty(destination) }: LogFormat = {},
): Logger {
  const out = typeof destination === 'number' ? pino.destination({ dest: destination, sync: true }) : destination;
  if (!pretty) return pino(loggerOptions(level), out);
  const format = prettyFactory({
    colorize: typeof destination === 'number' && isatty(destination),
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
  });
  // Synchronous, in this process: nothing is lost when the process exits right after logging.
  return pino(loggerOptions(level), { write: (line: string) => out.write(format(line)) });
}

export type { Logger };
