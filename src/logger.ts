import pino, { type Logger, type LoggerOptions } from 'pino';

/**
 * Paths pino censors wherever they appear in a logged object. Secrets, passwords, tokens, cookies and
 * Authorization headers must never reach a log line.
 */
export const redactPaths = [
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

export function loggerOptions(level: LoggerOptions['level']): LoggerOptions {
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

export function createLogger(level: LoggerOptions['level'], destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}

export type { Logger };
