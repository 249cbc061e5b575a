import { z } from 'zod';
import { parseEncryptionKey } from './crypto/keyring.ts';
import { LOOPBACK, parseAddressList, type AddressRange } from './security/address-list.ts';

/**
 * Keyhold's whole configuration. Only `server.ts` and `cli.ts` read `process.env`; everything else
 * receives this frozen object.
 */
export interface Config {
  /** TCP port the HTTP server listens on. */
  readonly port: number;
  /** Listening address; 0.0.0.0 inside a container. */
  readonly host: string;
  /** OpenID issuer identifier. Its path (if any) is where the provider is mounted. */
  readonly issuer: string;
  /** A Postgres server; undefined means the embedded Postgres under `dataDir`. */
  readonly databaseUrl: string | undefined;
  /** Where the embedded Postgres keeps its files. */
  readonly dataDir: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Used once, when no admin user exists. */
  readonly adminUsername: string;
  /** Used once, when no admin user exists; undefined means "generate one and print it once". */
  readonly adminPassword: string | undefined;
  /** Honour X-Forwarded-* headers (TLS offloaded at a proxy). */
  readonly trustProxy: boolean;
  /** Seconds a refresh token lives. */
  readonly refreshTokenLifetime: number;
  /** Seconds a just-rotated refresh token may be presented once more and get the same answer; 0 is off. */
  readonly refreshTokenReuseGrace: number;
  /** Sign-in lockout: consecutive failures before an account locks, the first lock and the cap as locks double (seconds). */
  readonly lockout: { readonly threshold: number; readonly seconds: number; readonly maxSeconds: number };
  /**
   * Per-minute limits shared by every instance; 0 turns one off. `signin`: sign-in form posts per
   * address; `tokenFailures`: failed requests at the token, introspection and revocation endpoints per
   * address, and failed client authentications per client.
   */
  readonly rateLimits: { readonly signin: number; readonly tokenFailures: number };
  /** The audit trail: days events are kept; whether each token issuance is an event (a write per grant). */
  readonly audit: { readonly retentionDays: number; readonly tokenEvents: boolean };
  /**
   * AES-256 keys that encrypt signing and cookie keys at rest; the first seals, all open. Empty when
   * unset: the embedded database then keeps a generated one in `DATA_DIR` (see encryption-keys.ts).
   */
  readonly encryptionKeys: readonly Buffer[];
  /** Addresses and ranges allowed to read /metrics (see http/metrics-routes.ts); loopback by default. */
  readonly metricsAllow: readonly AddressRange[];
  /** Seconds between a rotation publishing new signing keys and their signing (relying parties' JWKS caches catch up). */
  readonly keyActivationDelay: number;
  /** Rotate the signing keys when the newest is this many days old; 0 is off. */
  readonly keyRotationDays: number;
  /** Seconds /readyz answers 503 on SIGTERM, while requests are still served, before the listener closes. */
  readonly shutdownDrainSeconds: number;
  /** What the end users' pages show of the product: its name, an accent colour, a logo file (pages/brand.ts). */
  readonly brand: { readonly name: string | undefined; readonly accent: string | undefined; readonly logoFile: string | undefined };
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const integerString = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number between ${min} and ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number between ${min} and ${max}`);

const booleanString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const httpUrl = (what: string) =>
  z.string().refine((v) => {
    const url = URL.parse(v);
    return url !== null && (url.protocol === 'http:' || url.protocol === 'https:') && !url.search && !url.hash
      && !url.username && !url.password;
  }, `must be an absolute http(s) URL without query, fragment or credentials (${what})`);

const postgresUrl = z.string().refine((v) => {
  const url = URL.parse(v);
  return url !== null && (url.protocol === 'postgres:' || url.protocol === 'postgresql:');
}, 'must be a postgres:// or postgresql:// URL');

const envSchema = z.object({
  PORT: integerString(1, 65535).default(3000),
  HOST: z.string().min(1, 'must not be empty').default('127.0.0.1'),
  ISSUER: httpUrl('the issuer identifier').optional(),
  DATABASE_URL: postgresUrl.optional(),
  DATA_DIR: z.string().min(1, 'must not be empty').default('./data'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  ADMIN_USERNAME: z
    .string()
    .regex(/^[A-Za-z0-9._@-]{1,64}$/, 'must be 1 to 64 letters, digits or . _ @ -')
    .default('admin'),
  ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').max(1024, 'must be at most 1024 characters').optional(),
  TRUST_PROXY: booleanString.default(false),
  REFRESH_TOKEN_LIFETIME: integerString(60, 31_536_000).default(1_209_600),
  REFRESH_TOKEN_REUSE_GRACE: integerString(0, 300).default(0),
  LOCKOUT_THRESHOLD: integerString(1, 1000).default(10),
  LOCKOUT_SECONDS: integerString(1, 86_400).default(60),
  LOCKOUT_MAX_SECONDS: integerString(1, 86_400).default(900),
  RATE_LIMIT_SIGNIN_PER_MINUTE: integerString(0, 100_000).default(60),
  RATE_LIMIT_TOKEN_FAILURES_PER_MINUTE: integerString(0, 100_000).default(60),
  AUDIT_RETENTION_DAYS: integerString(1, 36_500).default(90),
  AUDIT_TOKEN_EVENTS: booleanString.default(false),
  KEY_ACTIVATION_DELAY: integerString(0, 2_592_000).default(3600),
  KEY_ROTATION_DAYS: integerString(0, 3650).default(0),
  SHUTDOWN_DRAIN_SECONDS: integerString(0, 300).default(5),
  ENCRYPTION_KEYS: z
    .string()
    .transform((v, ctx) => {
      const keys = v.split(',').map((part) => parseEncryptionKey(part));
      if (keys.some((k) => k === undefined)) {
        ctx.addIssue({ code: 'custom', message: 'must be comma-separated base64 keys of 32 bytes each (generate one with: openssl rand -base64 32)' });
        return z.NEVER;
      }
      return keys as Buffer[];
    })
    .optional(),
  BRAND_NAME: z
    .string()
    .max(60, 'must be at most 60 characters')
    .refine((v) => v.trim().length > 0 && !/\p{Cc}/u.test(v), 'must be a name without control characters')
    .optional(),
  BRAND_ACCENT: z
    .string()
    .regex(/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, 'must be a colour as #rrggbb or #rgb, such as #3b5bdb')
    .optional(),
  BRAND_LOGO: z.string().optional(),
  METRICS_ALLOW: z
    .string()
    .transform((v, ctx) => {
      const parsed = parseAddressList(v);
      if ('ranges' in parsed) return parsed.ranges;
      ctx.addIssue({ code: 'custom', message: `must be comma-separated IP addresses or CIDR ranges, e.g. 127.0.0.0/8,::1 ("${parsed.invalid}" is neither)` });
      return z.NEVER;
    })
    .optional(),
});

/** Parses the environment. Throws ConfigError with one line per bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // An empty variable is treated as unset, as shells and compose files often produce them.
  const present = Object.fromEntries(
    Object.keys(envSchema.shape).flatMap((key) => {
      const value = env[key];
      return value === undefined || value === '' ? [] : [[key, value]];
    }),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const byVariable = new Map<string, string>();
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0]);
      if (!byVariable.has(name)) byVariable.set(name, `${name}: ${issue.message}`);
    }
    throw new ConfigError([...byVariable.values()]);
  }
  const e = parsed.data;
  if (e.LOCKOUT_MAX_SECONDS < e.LOCKOUT_SECONDS) {
    throw new ConfigError([`LOCKOUT_MAX_SECONDS: must be at least LOCKOUT_SECONDS (${e.LOCKOUT_SECONDS})`]);
  }
  const issuer = (e.ISSUER ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    issuer,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    logLevel: e.LOG_LEVEL,
    adminUsername: e.ADMIN_USERNAME,
    adminPassword: e.ADMIN_PASSWORD,
    trustProxy: e.TRUST_PROXY,
    refreshTokenLifetime: e.REFRESH_TOKEN_LIFETIME,
    refreshTokenReuseGrace: e.REFRESH_TOKEN_REUSE_GRACE,
    lockout: Object.freeze({ threshold: e.LOCKOUT_THRESHOLD, seconds: e.LOCKOUT_SECONDS, maxSeconds: e.LOCKOUT_MAX_SECONDS }),
    rateLimits: Object.freeze({ signin: e.RATE_LIMIT_SIGNIN_PER_MINUTE, tokenFailures: e.RATE_LIMIT_TOKEN_FAILURES_PER_MINUTE }),
    audit: Object.freeze({ retentionDays: e.AUDIT_RETENTION_DAYS, tokenEvents: e.AUDIT_TOKEN_EVENTS }),
    encryptionKeys: Object.freeze(e.ENCRYPTION_KEYS ?? []),
    metricsAllow: Object.freeze(e.METRICS_ALLOW ?? LOOPBACK),
    keyActivationDelay: e.KEY_ACTIVATION_DELAY,
    keyRotationDays: e.KEY_ROTATION_DAYS,
    shutdownDrainSeconds: e.SHUTDOWN_DRAIN_SECONDS,
    brand: Object.freeze({ name: e.BRAND_NAME?.trim(), accent: e.BRAND_ACCENT, logoFile: e.BRAND_LOGO }),
  });
}
