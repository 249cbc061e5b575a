import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const BENCH_DIR = join(import.meta.dirname, '..');

interface Waiter<Out> {
  accept: (message: Out) => boolean;
  resolve: (message: Out) => void;
  reject: (err: Error) => void;
}

/**
 * A bench script in a process of its own, on the same Node as the orchestrator (process.execPath is
 * the `node` devDependency when started through `npm run bench`), talking over IPC.
 */
export class Child<In, Out extends { type: string }> {
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly #waiting: Waiter<Out>[] = [];
  /** Messages nobody waited for yet. */
  readonly #unclaimed: Out[] = [];
  #exit: Error | undefined;

  constructor(script: string, { args = [], nodeOptions = [] }: { args?: string[]; nodeOptions?: string[] } = {}) {
    this.process = spawn(process.execPath, [...nodeOptions, join(BENCH_DIR, script), ...args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.process.on('message', (message: Out) => {
      const i = this.#waiting.findIndex((w) => w.accept(message));
      if (i >= 0) this.#waiting.splice(i, 1)[0]!.resolve(message);
      else this.#unclaimed.push(message);
    });
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': it comes after the IPC channel is drained, so no last message is lost.
      this.process.on('close', (code, signal) => {
        this.#exit = new Error(`bench/${script} exited (${signal ?? `code ${code}`})`);
        for (const w of this.#waiting.splice(0)) w.reject(this.#exit);
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  send(message: In): void {
    if (this.process.connected) this.process.send(message as object);
  }

  /** The first message `accept` takes, already received or still to come; rejects if the child exits first. */
  next<T extends Out>(accept: (message: Out) => message is T): Promise<T> {
    const i = this.#unclaimed.findIndex(accept);
    if (i >= 0) return Promise.resolve(this.#unclaimed.splice(i, 1)[0] as T);
    if (this.#exit) return Promise.reject(this.#exit);
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push({ accept, resolve: resolve as (message: Out) => void, reject });
    });
  }

  /** Sends one job and waits for its one answer (the load generator and argon2 children work so). */
  static async once<In, Out extends { type: string }>(script: string, job: In): Promise<Out> {
    const child = new Child<In, Out>(script);
    child.send(job);
    return child.next((_message: Out): _message is Out => true);
  }
}
