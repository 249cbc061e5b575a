import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const node = join(root, 'node_modules', '.bin', 'node');

export interface ServerProcess {
  child: ChildProcess;
  /** Everything it wrote so far, standard output and error together. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `node src/server.ts` (what `npm start` runs) with `env` over this process's environment; resolves once it is ready. */
export function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(node, [join(root, 'src', 'server.ts')], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('Keyhold is ready')) resolve({ child, output: () => output, exited });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code }) => reject(new Error(`server exited (${code}) before it was ready:\n${output}`)));
    setTimeout(() => reject(new Error(`server not ready after 60 s:\n${output}`)), 60_000).unref();
  });
}
