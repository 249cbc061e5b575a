import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import type { Test } from 'tap';
import { buildApp, type Keyhold } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createClientsRepo } from '../../src/repos/clients.ts';
import { createUsersRepo } from '../../src/repos/users.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

/** The key every test instance seals its signing and cookie keys with (instances on one database must share it). */
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Every log line an app wrote, as text, for assertions that secrets never reach the logs. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void) {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    callback();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface TestApp extends Keyhold {
  /** http://127.0.0.1:PORT (or with the issuer path given), or the `issuer` given. */
  issuer: string;
  /** The origin the app listens on. */
  origin: string;
  config: Config;
  db: TestDatabase;
  logs: LogCapture;
  users: ReturnType<typeof createUsersRepo>;
  clients: ReturnType<typeof createClientsRepo>;
}

/**
 * A real Keyhold listening on loopback, on a database of its own. `issuerPath` mounts the provider
 * below a path; `db` shares a database with another instance; `issuer` is the public URL when that is
 * not the instance's own (a proxy in front, which every instance behind it names as ISSUER);
 * `keyCheckIntervalMs` how often it reads the signing keys again unprompted; `sweepIntervalMs` runs the
 * background sweep that often; `port` listens there (another instance's, once it stopped).
 */
export async function startTestApp(
  t: Test,
  {
    issuerPath = '',
    issuer,
    env = {},
    db,
    keyCheckIntervalMs,
    sweepIntervalMs,
    port: givenPort,
  }: {
    issuerPath?: string;
    issuer?: string;
    env?: Record<string, string>;
    db?: TestDatabase;
    keyCheckIntervalMs?: number;
    sweepIntervalMs?: number;
    port?: number;
  } = {},
): Promise<TestApp> {
  const database = db ?? (await createTestDatabase(t));
  const port = givenPort ?? (await freePort());
  const origin = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    PORT: String(port),
    ISSUER: issuer ?? `${origin}${issuerPath}`,
    DATABASE_URL: database.url,
    LOG_LEVEL: 'debug',
    ENCRYPTION_KEYS: TEST_ENCRYPTION_KEY,
    ...env,
  });
  const logs = new LogCapture();
  const logger = createLogger(config.logLevel, logs);
  const keyhold = await buildApp({
    config,
    pool: database.pool,
    databaseUrl: database.url,
    logger,
    ...(keyCheckIntervalMs ? { keyCheckIntervalMs } : {}),
    ...(sweepIntervalMs ? { sweepIntervalMs } : {}),
  });
  await keyhold.app.listen({ port, host: '127.0.0.1' });
  t.teardown(() => keyhold.app.close());
  return {
    ...keyhold,
    issuer: config.issuer,
    origin,
    config,
    db: database,
    logs,
    users: createUsersRepo(database.pool),
    clients: createClientsRepo(database.pool),
  };
}
