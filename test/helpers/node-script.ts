import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..', '..');
const node = join(root, 'node_modules', '.bin', 'node');

/** `import ... from src(path)` in a script: the module's URL in this checkout. */
export const src = (path: string) => pathToFileURL(join(root, 'src', path)).href;

export interface ScriptProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout line that parses as JSON. */
  firstJson: Promise<unknown>;
}

/** Runs an ES module script on the pinned Node, as a real process of its own. */
export function runScript(script: string): ScriptProcess {
  const child = spawn(node, ['--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const firstJson = new Promise<unknown>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      for (const line of stdout.split('\n').slice(0, -1)) {
        try {
          resolve(JSON.parse(line));
          return;
        } catch {
          // not JSON: keep reading
        }
      }
    });
    void exited.then(({ code }) => reject(new Error(`script exited (${code}) without JSON:\n${stdout}\n${stderr}`)));
  });
  firstJson.catch(() => undefined);
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { child, stdout: () => stdout, stderr: () => stderr, exited, firstJson };
}
