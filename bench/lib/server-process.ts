import { Child } from './child.ts';
import type { FromServer, MintRequest, ServerConfig, ToServer } from './protocol.ts';

/** The orchestrator's handle on one bench/server.ts process (Keyhold or the bare engine). */
export class Server {
  readonly engine: ServerConfig['engine'];
  readonly child: Child<ToServer, FromServer>;
  readonly origin: string;
  readonly #log: (line: string) => void;
  #nextId = 1;

  private constructor(engine: ServerConfig['engine'], child: Child<ToServer, FromServer>, origin: string, log: (line: string) => void) {
    this.engine = engine;
    this.child = child;
    this.origin = origin;
    this.#log = log;
  }

  /** Starts bench/server.ts and waits until it listens; `profile` runs it under `--cpu-prof`. */
  static async start(config: ServerConfig, { log, profile }: { log: (line: string) => void; profile?: { dir: string; name: string } }): Promise<Server> {
    const nodeOptions = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile.dir}`, `--cpu-prof-name=${profile.name}.cpuprofile`] : [];
    const child = new Child<ToServer, FromServer>('server.ts', { args: [JSON.stringify(config)], nodeOptions });
    const first = await child.next((m): m is Extract<FromServer, { type: 'ready' | 'failed' }> => m.type === 'ready' || (m.type === 'failed' && m.id === undefined));
    if (first.type === 'failed') throw new Error(`the ${config.engine} server did not start:\n${first.message}`);
    return new Server(config.engine, child, `http://127.0.0.1:${config.port}`, log);
  }

  get pid(): number {
    return this.child.pid;
  }

  async mint(request: MintRequest): Promise<string[]> {
    const id = this.#nextId++;
    this.child.send({ type: 'mint', id, request });
    const answer = await this.child.next(
      (m): m is Extract<FromServer, { type: 'minted' | 'failed' }> => (m.type === 'minted' || m.type === 'failed') && m.id === id,
    );
    if (answer.type === 'failed') throw new Error(`minting on ${this.engine} failed:\n${answer.message}`);
    const what = { code: 'authorization codes', refresh: 'refresh tokens', access: 'access tokens' }[request.kind];
    this.#log(`    minted ${answer.values.length.toLocaleString('en-US')} ${what} in ${(answer.ms / 1000).toFixed(1)} s`);
    return answer.values;
  }

  /** Statements sent to Postgres since the process started. */
  async queries(): Promise<number> {
    const id = this.#nextId++;
    this.child.send({ type: 'queries', id });
    const answer = await this.child.next((m): m is Extract<FromServer, { type: 'queries' }> => m.type === 'queries' && m.id === id);
    return answer.count;
  }

  /** Closes the server and waits for its process to end (a CPU profile is written then). */
  async stop(): Promise<void> {
    this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.process.kill('SIGKILL'), 15_000);
    await this.child.exited;
    clearTimeout(timer);
  }
}
