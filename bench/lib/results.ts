import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR } from './child.ts';
import type { Options } from './options.ts';
import { formatProfile, type ProfileSummary } from './profile.ts';
import type { Argon2Result } from './protocol.ts';
import { markdownTable, textTable, type Row } from './report.ts';

/** The end of a run: its summary on stdout (with the table for the README) and bench/results.json. */

export interface SigninSummary { rate: number; argon2: Argon2Result; ratio: number }

export interface SoakSummary {
  seconds: number;
  rssStartMb: number | null;
  rssEndMb: number | null;
  growthPercent: number | null;
  growthSecondHalfPercent: number | null;
  rssTrace: Array<[number, number]>;
}

export interface ScaleSummary { clients: number; providerRows: number; seedSeconds: number; sweepIntervalMs: number; scenarios: Array<Record<string, unknown>> }

export const signedPercent = (p: number | null) => (p === null ? '?' : `${p >= 0 ? '+' : ''}${p.toFixed(1)}%`);

/** What a run found, and what it ran on. */
export interface RunResults {
  options: Options;
  /** Whether Keyhold's servers were profiled (BENCH_PROFILE=1). */
  profiled: boolean;
  /** performance.now() when the run started. */
  runStarted: number;
  loadAtStart: number;
  postgresVersion: string;
  rows: Row[];
  signin: SigninSummary | undefined;
  soak: SoakSummary | undefined;
  scale: ScaleSummary;
  profiles: ProfileSummary[];
}

export async function writeResults({ options, profiled, runStarted, loadAtStart, postgresVersion, rows, signin, soak, scale, profiles }: RunResults): Promise<void> {
  const totalSeconds = (performance.now() - runStarted) / 1000;
  const version = (pkg: string) => (JSON.parse(readFileSync(join(BENCH_DIR, '..', 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    postgres: postgresVersion,
    oidcProvider: version('oidc-provider'),
    autocannon: version('autocannon'),
    loadAverageAtStart: Number(loadAtStart.toFixed(2)),
  };
  const date = new Date().toISOString();

  const out: string[] = [];
  out.push(
    '',
    `Keyhold vs bare oidc-provider ${machine.oidcProvider}: ${options.seconds} s per scenario, ${options.connections} connections, ` +
      `Node ${machine.node}, Postgres ${machine.postgres}, ${machine.cpus} × ${machine.cpuModel}`,
    '',
    textTable(rows),
    '',
    'vs baseline: Keyhold ÷ bare engine; for sign-ins, sign-ins/s ÷ argon2id verifies/s; for [scale], ÷ the same scenario on the empty database.',
    'CPU ms/req: CPU time of the server process and of all Postgres processes during the measurement, per request (per sign-in).',
    'queries/req: statements the server sent to Postgres, per request (per sign-in).',
  );
  if (signin) {
    out.push(
      '',
      `sign-ins: ${signin.rate.toFixed(1)}/s; argon2id verifies: ${signin.argon2.rate.toFixed(1)}/s (${options.connections} in flight, own process); ` +
        `figure of merit ${signin.ratio.toFixed(2)} (target 0.8)`,
    );
  }
  if (soak) {
    out.push(
      '',
      `soak: RSS ${soak.rssStartMb?.toFixed(0)} MB at start, ${soak.rssEndMb?.toFixed(0)} MB after ${soak.seconds} s ` +
        `(${signedPercent(soak.growthPercent)}; ${signedPercent(soak.growthSecondHalfPercent)} over the second half); ` +
        `every 5 s: ${soak.rssTrace.map(([, mb]) => mb).join(', ')} MB`,
    );
  }
  for (const row of rows.filter((r) => r.notes.length)) out.push(`note, ${row.title} [${row.engine}${row.phase === 'default' ? '' : `, ${row.phase}`}]: ${row.notes.join('; ')}`);
  // The console gets the heaviest few of each; results.json keeps more.
  for (const profile of profiles) out.push('', formatProfile(profile, 8));
  out.push('', 'For the README:', '', markdownTable(rows), '', `Total run time: ${totalSeconds.toFixed(0)} s`);
  process.stdout.write(`${out.join('\n')}\n`);

  await mkdir(BENCH_DIR, { recursive: true });
  await writeFile(
    join(BENCH_DIR, 'results.json'),
    `${JSON.stringify(
      {
        date,
        machine,
        options: { ...options, profiled },
        totalSeconds,
        failed: process.exitCode === 1,
        rows,
        signin: signin ?? null,
        soak: soak ?? null,
        scale: options.scale ? scale : null,
        profiles,
      },
      null,
      2,
    )}\n`,
  );
}
