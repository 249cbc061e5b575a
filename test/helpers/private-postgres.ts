import { execFile, spawn } from 'node:child_process';
import { constants, existsSync, readFileSync } from 'node:fs';
import { access, appendFile, chmod, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Test } from 'tap';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { freePort } from './app.ts';

const run = promisify(execFile);

/** Where the postgresql-15 package (Debian, Ubuntu) puts the server binaries; CI installs it. */
export const POSTGRES_15_BIN = '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  /** The migrated `keyhold` database on this server. */
  url: string;
  /** Which server this is: a PostgreSQL 15 server from POSTGRES_15_BIN, or the embedded Postgres. */
  kind: 'postgresql-15' | 'embedded';
  /** The server's version as it reports it (`SHOW server_version`). */
  version: string;
  /** Stops the server (a fast shutdown: every session is terminated, new connections are refused). */
  stop(): Promise<void>;
  /** Starts it again, on the same port, with the same data. */
  start(): Promise<void>;
}

/**
 * A Postgres server of the test's own, to stop and start at will (outages), in a fresh temporary
 * directory removed on teardown (the server stopped first, whatever the test's outcome). It is a
 * PostgreSQL 15 server run with initdb and pg_ctl from POSTGRES_15_BIN when those are installed, else an
 * embedded Postgres (the npm-shipped binaries, as `npm start` runs). Never the server TEST_DATABASE_URL
 * names: the suite's shared server is never stopped.
 */
export async function startPrivatePostgres(t: Test): Promise<PrivatePostgres> {
  const installed = await Promise.all(['initdb', 'pg_ctl', 'postgres'].map((b) => access(join(POSTGRES_15_BIN, b), constants.X_OK).then(() => true, () => false)));
  return installed.every(Boolean) ? startPostgres15(t) : startEmbedded(t);
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0]!.server_version;
  } finally {
    await client.end();
  }
}

async function migrated(url: string): Promise<void> {
  const pool = createPool({ connectionString: url, max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
}

async function startEmbedded(t: Test): Promise<PrivatePostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'keyhold-private-pg-'));
  const port = await freePort();
  let server: EmbeddedDatabase | undefined;
  let running = false;
  t.teardown(async () => {
    if (running) await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  server = await startEmbeddedPostgres(dir, () => undefined, { port });
  running = true;
  await migrated(server.url);
  return {
    url: server.url,
    kind: 'embedded',
    version: await serverVersion(server.url),
    async stop() {
      await server!.stop();
      running = false;
    },
    async start() {
      server = await startEmbeddedPostgres(dir, () => undefined, { port });
      running = true;
    },
  };
}

/** A command line as one `sh -c` argument, each word single-quoted. */
const shellWords = (words: string[]) => words.map((w) => `'${w.replaceAll("'", `'\\''`)}'`).join(' ');

async function findExecutable(name: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter(Boolean);
  for (const dir of dirs) {
    const path = join(dir, name);
    if (await access(path, constants.X_OK).then(() => true, () => false)) return path;
  }
  return undefined;
}

interface Runner {
  /** The command that runs `file args` as the user the server runs as. */
  command(file: string, args: string[]): [string, string[]];
  /** Who owns the server's directory, when that is not this process's user. */
  owner?: { uid: number; gid: number };
}

/**
 * As root, the server runs as the `postgres` user (Postgres refuses to run as root): through runuser, or
 * su when there is no runuser. Otherwise as this process's user.
 */
async function serverRunner(): Promise<Runner> {
  if (process.getuid?.() !== 0) return { command: (file, args) => [file, args] };
  const id = (flag: string) => run('id', [flag, 'postgres']).then(({ stdout }) => Number(stdout.trim()), () => undefined);
  const [uid, gid] = await Promise.all([id('-u'), id('-g')]);
  if (uid === undefined || gid === undefined) {
    throw new Error('running as root, the PostgreSQL 15 server must run as the `postgres` user, and there is none (useradd --system --user-group postgres)');
  }
  const runuser = await findExecutable('runuser');
  if (runuser) return { command: (file, args) => [runuser, ['-u', 'postgres', '--', file, ...args]], owner: { uid, gid } };
  const su = await findExecutable('su');
  if (!su) throw new Error('running as root, neither runuser nor su is there to run the PostgreSQL 15 server as `postgres`');
  return { command: (file, args) => [su, ['postgres', '-s', '/bin/sh', '-c', shellWords([file, ...args])]], owner: { uid, gid } };
}

/** The postmaster's pid, from its postmaster.pid, while the file is there (a server runs or crashed). */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function startPostgres15(t: Test): Promise<PrivatePostgres> {
  const runner = await serverRunner();
  const pgCtl = join(POSTGRES_15_BIN, 'pg_ctl');
  // Under the system's temporary directory (reachable by `postgres`, unlike /root): the directory itself
  // is made 0755 and given to the server's user; the data directory inside it is 0700 (initdb's mode).
  const dir = await mkdtemp(join(tmpdir(), 'keyhold-private-pg15-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const exec = async (file: string, args: string[]) => {
    const [command, argv] = runner.command(file, args);
    try {
      // cwd: a directory the server's user can enter (this process's may be under /root).
      await run(command, argv, { cwd: dir, timeout: 90_000 });
    } catch (err) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      const { stderr = '', stdout = '' } = err as { stderr?: string; stdout?: string };
      throw new Error(`${[file, ...args].join(' ')} failed: ${String(err)}\n${stdout}${stderr}${log ? `\nserver log:\n${log.slice(-4000)}` : ''}`, { cause: err });
    }
  };
  const stopServer = () => exec(pgCtl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60']);
  const startServer = () => exec(pgCtl, ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60']);

  // pg_ctl runs the server detached from this process: should this process end without the teardown
  // (killed after a test timeout), a watchdog of its own stops the server and removes the directory.
  const stopNow = runner.command(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '10']);
  const watchdog = spawn(
    '/bin/sh',
    [
      '-c',
      `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
        `if [ -f ${shellWords([join(dataDir, 'postmaster.pid')])} ]; then ${shellWords(stopNow.flat())}; fi; rm -rf ${shellWords([dir])}`,
    ],
    { cwd: '/', detached: true, stdio: 'ignore' },
  );
  watchdog.unref();
  t.teardown(async () => {
    // Stopped whatever the test did (a failed assertion, a server left down or up); a running server
    // is told by its postmaster.pid.
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      await stopServer().catch((err: unknown) => {
        const pid = postmasterPid(dataDir);
        try {
          if (pid !== undefined) process.kill(pid, 'SIGQUIT'); // an immediate shutdown
        } catch {
          // Gone already.
        }
        process.stderr.write(`the private Postgres did not stop cleanly: ${String(err)}\n`);
      });
    }
    await rm(dir, { recursive: true, force: true });
    if (watchdog.pid !== undefined && watchdog.exitCode === null) process.kill(watchdog.pid);
  });

  if (runner.owner) {
    await chown(dir, runner.owner.uid, runner.owner.gid);
    await chmod(dir, 0o755);
  }
  const port = await freePort();
  await exec(join(POSTGRES_15_BIN, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--encoding=UTF8', '--no-sync']);
  // Loopback only, its socket in its own directory (usable by its own user alone), trust for local tests.
  await appendFile(
    join(dataDir, 'postgresql.conf'),
    [
      '',
      '# test/helpers/private-postgres.ts',
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      'unix_socket_permissions = 0700',
      'max_connections = 200',
      '',
    ].join('\n'),
  );
  await startServer();

  const url = `postgres://postgres@127.0.0.1:${port}/keyhold`;
  const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  try {
    await admin.query('CREATE DATABASE keyhold');
  } finally {
    await admin.end();
  }
  await migrated(url);
  return {
    url,
    kind: 'postgresql-15',
    version: await serverVersion(url),
    stop: stopServer,
    start: startServer,
  };
}
