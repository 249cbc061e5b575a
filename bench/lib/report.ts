/** One line of the results: a scenario on one engine, in one phase of the run. */
export interface Row {
  scenario: string;
  title: string;
  engine: 'keyhold' | 'bare' | 'argon2';
  phase: 'default' | 'soak' | 'scale';
  /** Units per second: requests, or whole sign-ins, or argon2id verifications. */
  rate: number;
  unit: 'request' | 'sign-in' | 'verify';
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx (or, for sign-ins, any step off the expected path) + socket errors + timeouts. */
  errors: number;
  /** Errors during the warm-up that preceded the measurement. */
  warmupErrors: number;
  completed: number;
  responses: number;
  elapsedS: number;
  /** Once-only inputs ran out before the time was up (the measurement is then shorter). */
  exhausted: boolean;
  /** rate ÷ the baseline's rate, and what the baseline is. */
  ratio: number | null;
  baseline: string | null;
  serverCpuMsPerUnit: number | null;
  postgresCpuMsPerUnit: number | null;
  peakRssMb: number | null;
  /** Statements Keyhold sent to Postgres per unit. */
  queriesPerUnit: number | null;
  /** The server's RSS right before and right after the measurement (the soak reports its growth). */
  rssStartMb: number | null;
  rssEndMb: number | null;
  /** [seconds into the measurement, RSS MB], for the soak. */
  rssTrace?: Array<[number, number]>;
  statuses: Record<string, number>;
  samples: string[];
  notes: string[];
}

/** "req/s", "sign-ins/s", "verifies/s". */
export const perSecond = (unit: Row['unit']) => ({ request: 'req/s', 'sign-in': 'sign-ins/s', verify: 'verifies/s' })[unit];

const fixed = (n: number | null | undefined, digits: number) => (n === null || n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));
const thousands = (n: number) => Math.round(n).toLocaleString('en-US');

interface Column {
  head: string;
  cell: (row: Row) => string;
  left?: boolean;
}

const label = (row: Row) => `${row.title}${row.phase === 'default' ? '' : ` [${row.phase}]`}`;
const ratio = (row: Row) => (row.ratio === null ? '-' : `${row.ratio.toFixed(2)}${row.baseline === 'bare' ? '' : ` (${row.baseline})`}`);

const COLUMNS: Column[] = [
  { head: 'scenario', cell: label, left: true },
  { head: 'engine', cell: (r) => r.engine, left: true },
  { head: 'req/s', cell: (r) => `${thousands(r.rate)}${r.unit === 'request' ? '' : ` ${perSecond(r.unit)}`}` },
  { head: 'p50 ms', cell: (r) => fixed(r.p50Ms, 1) },
  { head: 'p99 ms', cell: (r) => fixed(r.p99Ms, 1) },
  { head: 'errors', cell: (r) => String(r.errors) },
  { head: 'vs baseline', cell: ratio },
  { head: 'server CPU ms/req', cell: (r) => fixed(r.serverCpuMsPerUnit, 3) },
  { head: 'PG CPU ms/req', cell: (r) => fixed(r.postgresCpuMsPerUnit, 3) },
  { head: 'peak RSS MB', cell: (r) => fixed(r.peakRssMb, 0) },
  { head: 'queries/req', cell: (r) => fixed(r.queriesPerUnit, 1) },
];

/** The full table, aligned for a terminal. */
export function textTable(rows: Row[]): string {
  const cells = rows.map((row) => COLUMNS.map((c) => c.cell(row)));
  const widths = COLUMNS.map((c, i) => Math.max(c.head.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values.map((v, i) => (COLUMNS[i]!.left ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  return [line(COLUMNS.map((c) => c.head)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** The compact table for the README: server and Postgres CPU in one column. */
export function markdownTable(rows: Row[]): string {
  const head = ['Scenario', 'Engine', 'Throughput', 'p50 ms', 'p99 ms', 'Errors', 'vs baseline', 'CPU ms/req (server + PG)', 'Peak RSS MB'];
  const body = rows.map((r) => [
    label(r),
    r.engine,
    `${thousands(r.rate)} ${perSecond(r.unit)}`,
    fixed(r.p50Ms, 1),
    fixed(r.p99Ms, 1),
    String(r.errors),
    ratio(r),
    r.serverCpuMsPerUnit === null ? '-' : `${fixed(r.serverCpuMsPerUnit, 2)}${r.postgresCpuMsPerUnit === null ? '' : ` + ${fixed(r.postgresCpuMsPerUnit, 2)}`}`,
    fixed(r.peakRssMb, 0),
  ]);
  const right = new Set([2, 3, 4, 5, 6, 7, 8]);
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (right.has(i) ? '---:' : ':---')).join('|')}|`,
    ...body.map((cells) => `| ${cells.join(' | ')} |`),
  ].join('\n');
}
