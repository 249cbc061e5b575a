import { Child } from './child.ts';
import type { Options } from './options.ts';
import { peakRssMb, resetPeakRss, rssMb, treeCpuMs } from './procfs.ts';
import type { FromArgon2, FromLoadgen, LoadJob, LoadResult, ToArgon2, ToLoadgen } from './protocol.ts';
import { perSecond, type Row } from './report.ts';
import type { Engine, Scenario } from './scenarios.ts';

/** How the benchmark measures: the load generator's runs, CPU and memory read from /proc around them. */

/** One run of the load generator in a fresh process; `onMeasuring` fires when its warm-up ends. */
export async function runLoad(job: LoadJob, onMeasuring?: () => void): Promise<LoadResult> {
  const child = new Child<ToLoadgen, FromLoadgen>('loadgen.ts');
  child.send({ type: 'run', job });
  const measuring = child.next((m): m is Extract<FromLoadgen, { type: 'measuring' }> => m.type === 'measuring').then(
    () => onMeasuring?.(),
    () => undefined, // the run ended before its warm-up did (once-only values ran out)
  );
  const answer = await child.next((m): m is Extract<FromLoadgen, { type: 'result' | 'failed' }> => m.type !== 'measuring');
  await measuring;
  if (answer.type === 'failed') throw new Error(`the load generator failed:\n${answer.message}`);
  return answer.result;
}

interface CpuSample {
  server: number;
  postgres: number | null;
}

/** What measuring uses of the run: its options, its log, and the pid of the embedded Postgres once it runs. */
export interface MeasureContext {
  options: Options;
  progress: (message: string) => void;
  postmaster: () => number;
}

export function createMeasurement({ options, progress, postmaster }: MeasureContext) {
  const cpuNow = (e: Engine): CpuSample => ({ server: treeCpuMs(e.server.pid), postgres: e.name === 'keyhold' ? treeCpuMs(postmaster()) : null });

  /**
   * Waits (5 s at most) until the engine's processes are idle, under a tenth of a core: what minting or
   * a calibration run left behind (Postgres writing back, a last batch) must not land in the measurement.
   * At most: the scale run's sweeper never idles, and must not be given time to sweep unmeasured.
   */
  async function settle(e: Engine): Promise<void> {
    const busy = () => {
      const sample = cpuNow(e);
      return sample.server + (sample.postgres ?? 0);
    };
    const until = performance.now() + 5_000;
    for (let last = busy(); performance.now() < until; ) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const now = busy();
      if (now - last < 25) return;
      last = now;
    }
  }

  /**
   * One scenario on one engine: [calibration run,] then one run that warms up and measures without a
   * break, with /proc read when the warm-up ends and when the run does. `around` runs outside the
   * measured span (the scale run counts expired rows there).
   */
  async function measure(
    s: Scenario,
    e: Engine,
    phase: Row['phase'],
    seconds: number,
    around: { before?: () => Promise<void>; after?: () => Promise<void>; rssEveryMs?: number } = {},
  ): Promise<Row> {
    const measuredSeconds = Math.min(seconds, s.maxSeconds ?? Infinity);
    const warmupSeconds = s.warmupSeconds ?? options.warmupSeconds;
    progress(`  ${s.title} on ${e.name}${phase === 'default' ? '' : ` [${phase}]`}: ${s.calibrate ? `calibration ${options.warmupSeconds} s, then ` : ''}warm-up ${s.calibrate ? 1 : warmupSeconds} s and ${measuredSeconds} s measured`);
    const calibration = s.calibrate ? await runLoad(await s.job(e, { warmupSeconds: 0, seconds: options.warmupSeconds })) : undefined;
    const job = await s.job(e, { warmupSeconds: calibration ? 1 : warmupSeconds, seconds: measuredSeconds, ...(calibration ? { expectedRate: calibration.rate } : {}) });
    await settle(e);
    await around.before?.();

    let before: CpuSample | undefined;
    let queriesBefore: Promise<number> | undefined;
    let peakReset = false;
    let rssStartMb: number | null = null;
    // The soak follows RSS through the run: a plateau and a steady climb look alike at both ends.
    const rssTrace: Array<[number, number]> = [];
    let tracer: NodeJS.Timeout | undefined;
    const result = await runLoad(job, () => {
      peakReset = resetPeakRss(e.server.pid);
      rssStartMb = rssMb(e.server.pid) ?? null;
      before = cpuNow(e);
      queriesBefore = e.server.queries();
      const from = performance.now();
      if (around.rssEveryMs) {
        tracer = setInterval(() => rssTrace.push([Math.round((performance.now() - from) / 1000), Math.round(rssMb(e.server.pid) ?? 0)]), around.rssEveryMs);
      }
    });
    clearInterval(tracer);
    const after = cpuNow(e);
    const queries = queriesBefore ? (await e.server.queries()) - (await queriesBefore) : 0;
    const rssEndMb = rssMb(e.server.pid) ?? null;
    const peak = peakRssMb(e.server.pid) ?? null;
    await around.after?.();

    const units = Math.max(1, result.completed);
    const errors = result.badStatus + result.socketErrors;
    const warmupErrors = result.warmupErrors + (calibration ? calibration.warmupErrors + calibration.badStatus + calibration.socketErrors : 0);
    const notes: string[] = [];
    if (result.exhausted && result.elapsedS < measuredSeconds * 0.9) notes.push(`minted values ran out after ${result.elapsedS.toFixed(1)} s of measurement`);
    if (measuredSeconds < seconds) notes.push(`measured ${measuredSeconds} s: codes live 60 s`);
    if (before && !peakReset) notes.push('peak RSS is since the server started (clear_refs not writable)');
    if (!before) notes.push('the run ended within its warm-up: nothing measured');
    if (warmupErrors) notes.push(`${warmupErrors} errors during calibration and warm-up`);
    const perUnit = (a: number | null | undefined, b: number | null | undefined) => (a === null || a === undefined || b === null || b === undefined ? null : (b - a) / units);
    const row: Row = {
      scenario: s.name,
      title: s.title,
      engine: e.name,
      phase,
      rate: result.rate,
      unit: s.unit,
      p50Ms: result.p50Ms,
      p99Ms: result.p99Ms,
      errors,
      warmupErrors,
      completed: result.completed,
      responses: result.responses,
      elapsedS: result.elapsedS,
      exhausted: result.exhausted,
      ratio: null,
      baseline: null,
      serverCpuMsPerUnit: perUnit(before?.server, after.server),
      postgresCpuMsPerUnit: perUnit(before?.postgres, after.postgres),
      peakRssMb: before ? peak : null,
      queriesPerUnit: e.name === 'keyhold' && before ? queries / units : null,
      rssStartMb,
      rssEndMb,
      ...(rssTrace.length ? { rssTrace } : {}),
      statuses: result.statuses,
      samples: result.samples,
      notes,
    };
    progress(
      `    ${Math.round(row.rate).toLocaleString('en-US')} ${perSecond(s.unit)}, p50 ${row.p50Ms.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms, ${errors} errors` +
        (row.samples.length ? `\n    first unexpected answers:\n      ${row.samples.join('\n      ')}` : ''),
    );
    return row;
  }

  /** The sign-in yardstick, run while no server is up, with as many verifications in flight as connections. */
  async function argon2Row(): Promise<Row> {
    progress(`  argon2id verifications, ${options.connections} in flight, own process`);
    const answer = await Child.once<ToArgon2, FromArgon2>('argon2.ts', {
      type: 'run',
      job: { seconds: options.seconds, warmupSeconds: options.warmupSeconds, concurrency: options.connections },
    });
    if (answer.type === 'failed') throw new Error(`the argon2id verifier failed: ${answer.message}`);
    const argon2 = answer.result;
    progress(`    ${Math.round(argon2.rate)} verifies/s, p50 ${argon2.p50Ms.toFixed(1)} ms, p99 ${argon2.p99Ms.toFixed(1)} ms`);
    return {
      scenario: 'signin',
      title: 'argon2id verify (yardstick)',
      engine: 'argon2',
      phase: 'default',
      rate: argon2.rate,
      unit: 'verify',
      p50Ms: argon2.p50Ms,
      p99Ms: argon2.p99Ms,
      errors: 0,
      warmupErrors: 0,
      completed: argon2.verifies,
      responses: 0,
      elapsedS: argon2.elapsedS,
      exhausted: false,
      ratio: null,
      baseline: null,
      serverCpuMsPerUnit: null,
      postgresCpuMsPerUnit: null,
      peakRssMb: null,
      queriesPerUnit: null,
      rssStartMb: null,
      rssEndMb: null,
      statuses: {},
      samples: [],
      notes: [],
    };
  }

  return { measure, argon2Row };
}
