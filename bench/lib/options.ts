export const SCENARIO_NAMES = ['client_credentials', 'code', 'refresh', 'introspection', 'userinfo', 'signin', 'admin'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface Options {
  /** Measured seconds per scenario and engine. */
  seconds: number;
  /** Seconds of warm-up before each measurement (JIT, pools, caches; also calibrates minting). */
  warmupSeconds: number;
  connections: number;
  scale: boolean;
  soak: boolean;
  only: ScenarioName[];
}

export const USAGE = `usage: npm run bench -- [--seconds N] [--connections N] [--only name,name] [--soak] [--scale]

  --seconds N       measured seconds per scenario and engine (default 10)
  --connections N   concurrent connections of the load generator (default 32)
  --only a,b        run only these scenarios: ${SCENARIO_NAMES.join(', ')}
  --soak            also run client_credentials on Keyhold for 60 s and report RSS growth
  --scale           afterwards, seed 100,000 clients and 1,000,000 provider rows and run
                    client_credentials and introspection again while expired rows are swept

  BENCH_PROFILE=1   write a CPU profile of each Keyhold server process into bench/profiles/`;

export class UsageError extends Error {}

export function parseOptions(argv: string[]): Options {
  const options: Options = { seconds: 10, warmupSeconds: 2, connections: 32, scale: false, soak: false, only: [...SCENARIO_NAMES] };
  const args = argv.flatMap((arg) => (arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg]));
  const value = (flag: string): string => {
    const v = args.shift();
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  const positive = (flag: string, text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, not ${JSON.stringify(text)}`);
    return n;
  };
  for (let arg = args.shift(); arg !== undefined; arg = args.shift()) {
    switch (arg) {
      case '--seconds':
        options.seconds = positive(arg, value(arg));
        break;
      case '--connections':
        options.connections = Math.round(positive(arg, value(arg)));
        break;
      case '--scale':
        options.scale = true;
        break;
      case '--soak':
        options.soak = true;
        break;
      case '--only': {
        const names = value(arg).split(',').map((n) => n.trim()).filter(Boolean);
        const unknown = names.filter((n) => !(SCENARIO_NAMES as readonly string[]).includes(n));
        if (unknown.length || names.length === 0) throw new UsageError(`--only takes names among ${SCENARIO_NAMES.join(', ')}; unknown: ${unknown.join(', ')}`);
        options.only = names as ScenarioName[];
        break;
      }
      case '--help':
      case '-h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown option ${JSON.stringify(arg)}`);
    }
  }
  // A quarter of the measurement, between 1 and 2 s: enough for the JIT, short enough for the budget.
  options.warmupSeconds = Math.min(2, Math.max(1, options.seconds / 4));
  return options;
}
