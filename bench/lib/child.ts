import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const BENCH_DIR = join(import.meta.dirname, '..');

/**
 * A bench script in a process of its own, on the same Node as the orchestrator (process.execPath is
 * the `node` devDependency when started through `npm run bench`), talking over IPC.
 */
export class Child<In, Out extends { type: string }> {
  readonly process: ChildProcess;
  readonly #waiting: Array<{ accept: (message: Out) => boolean; resolve: (message: Out) => void; reject: (err: Error) => void }> = [];
  #exit: Error | undefined;
  readonly exited: Promise<number | null>;

  constructor(script: string, { args = [], nodeOptions = [], env = {} }: { args?: string[]; nodeOptions?: string[]; env?: Record<string, string> } = {}) {
    this.process = spawn(process.execPath, [...nodeOptions, join(BENCH_DIR, script), ...args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...env },
    });
    this.process.on('message', (message: Out) => {
      const i = this.#waiting.findIndex((w) => w.accept(message));
      if (i >= 0) this.#waiting.splice(i, 1)[0]!.resolve(message);
    });
    this.exited = new Promise((resolve) => {
      this.process.on('exit', (code, signal) => {
        this.#exit = new Error(`${script} exited (${signal ?? `code ${code}`})`);
        for (const w of this.#waiting.splice(0)) w.reject(this.#exit);
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  send(message: In): void {
    this.process.send(message as object);
  }

  /** The next message `accept` takes; rejects if the child exits first. */
  next<T extends Out>(accept: (message: Out) => message is T): Promise<T> {
    if (this.#exit) return Promise.reject(this.#exit);
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push({ accept, resolve: resolve as (message: Out) => void, reject });
    });
  }
}
