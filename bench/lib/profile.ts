import { readFileSync } from 'node:fs';

/** The parts of V8's .cpuprofile (written by `node --cpu-prof`) that self time needs. */
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** Sampled time that was not idle, in ms. */
  busyMs: number;
  idleMs: number;
  /** Self time by function, heaviest first. */
  functions: Array<{ name: string; where: string; ms: number; percent: number }>;
  /** Self time by where the code lives: a package, a Keyhold source file, Node internals, GC. */
  areas: Array<{ area: string; ms: number; percent: number }>;
}

const PSEUDO = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** A package name, `src/<file>`, `bench/...` or `node:internal` for where a function is defined. */
function areaOf(url: string, name: string): string {
  if (!url) return PSEUDO.has(name) ? name : '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  const source = /\/(src|bench)\/(.+)$/.exec(url);
  if (source) return `${source[1]}/${source[2]}`;
  return url;
}

const shortWhere = (url: string, line: number) => {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '');
  const tail = /node_modules\/(.+)$/.exec(path)?.[1] ?? /\/((?:src|bench)\/.+)$/.exec(path)?.[1] ?? path;
  return `${tail}:${line + 1}`;
};

/** Self time per function and per area; `(idle)` is left out of the percentages. */
export function summariseProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time since the previous sample: it belongs to the sample before it.
  for (let i = 0; i < profile.samples.length - 1; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  const functions = new Map<string, { name: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const where = shortWhere(frame.url, frame.lineNumber);
    const key = `${name} ${where}`;
    const entry = functions.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    const area = areaOf(frame.url, name);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const percent = (us: number) => (busyUs ? (100 * us) / busyUs : 0);
  return {
    file,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    functions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, ms: f.us / 1000, percent: percent(f.us) })),
    areas: [...areas]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([area, us]) => ({ area, ms: us / 1000, percent: percent(us) })),
  };
}

export function formatProfile(summary: ProfileSummary): string {
  const lines = [
    `${summary.file}: ${(summary.busyMs / 1000).toFixed(1)} s busy, ${(summary.idleMs / 1000).toFixed(1)} s idle`,
    '  self time by function:',
    ...summary.functions.map((f) => `    ${f.percent.toFixed(1).padStart(5)}%  ${f.name}  ${f.where}`),
    '  self time by area:',
    ...summary.areas.map((a) => `    ${a.percent.toFixed(1).padStart(5)}%  ${a.area}`),
  ];
  return lines.join('\n');
}
