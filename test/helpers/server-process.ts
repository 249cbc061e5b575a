import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** `node src/server.ts` as `npm start` runs it, in a child process (test/e2e/*). */

const root = join(import.meta.dirname, '..', '..');
const node = join(root, 'node_modules', '.bin', 'node');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
  exited: Promise<Exit>;
  /** Resolves once it logged "Keyhold is ready"; rejects if it exits first or is not ready in 60 s. */
  ready: Promise<void>;
}

/**
 * Starts the server with `env` over this process's environment. Pass `DATABASE_URL: ''` and
 * `ENCRYPTION_KEYS: ''` to be sure of the embedded database and its generated key.
 */
export function spawnServer(env: Record<string, string>): ServerProcess {
  const child = spawn(node, [join(root, 'src', 'server.ts')], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('Keyhold is ready')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code }) => reject(new Error(`server exited (${code}) before it was ready:\n${output}`)));
    setTimeout(() => reject(new Error(`server not ready after 60 s:\n${output}`)), 60_000).unref();
  });
  ready.catch(() => undefined);
  return { child, output: () => output, exited, ready };
}

/** Starts the server and waits until it is ready. */
export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const server = spawnServer(env);
  await server.ready;
  return server;
}
