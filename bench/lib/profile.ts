import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** The parts of V8's .cpuprofile (written by `node --cpu-prof`) that self time needs. */
interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** Sampled time that was not idle, in ms. */
  busyMs: number;
  idleMs: number;
  /** Self time by function, heaviest first, with the code that called it most (through Node internals). */
  functions: Array<{ name: string; where: string; ms: number; percent: number; calledFrom: string }>;
  /** Self time by where the code lives: a package, a Keyhold source file, Node internals, GC. */
  areas: Array<{ area: string; ms: number; percent: number }>;
  /**
   * The same, with native and Node-internal time charged to the nearest caller in a package or in
   * Keyhold's code: socket writes land on pg or on the HTTP framework that asked for them.
   */
  owners: Array<{ area: string; ms: number; percent: number }>;
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

const frameName = (frame: CallFrame) => `${frame.functionName || '(anonymous)'} ${shortWhere(frame.url, frame.lineNumber)}`.trim();
/** Code of an application or package (not native, not Node's own). */
const isUserland = (frame: CallFrame) => frame.url !== '' && !frame.url.startsWith('node:');

/** Self time per function and per area; `(idle)` is left out of the percentages. */
export function summariseProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  /** The nearest userland frame at or above a node (the node itself when it is userland). */
  const ownerCache = new Map<number, CallFrame | undefined>();
  const ownerOf = (id: number): CallFrame | undefined => {
    if (ownerCache.has(id)) return ownerCache.get(id);
    const frame = byId.get(id)!;
    const parent = parentOf.get(id);
    const owner = isUserland(frame) ? frame : parent === undefined ? undefined : ownerOf(parent);
    ownerCache.set(id, owner);
    return owner;
  };

  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time since the previous sample: it belongs to the sample before it.
  for (let i = 0; i < profile.samples.length - 1; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  const functions = new Map<string, { name: string; where: string; us: number; callers: Map<string, number> }>();
  const areas = new Map<string, number>();
  const owners = new Map<string, number>();
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
    const entry = functions.get(key) ?? { name, where, us: 0, callers: new Map<string, number>() };
    entry.us += us;
    const parent = parentOf.get(id);
    const caller = isUserland(frame) ? (parent === undefined ? undefined : byId.get(parent)) : parent === undefined ? undefined : ownerOf(parent);
    const callerName = caller ? frameName(caller) : '(none)';
    entry.callers.set(callerName, (entry.callers.get(callerName) ?? 0) + us);
    functions.set(key, entry);
    const area = areaOf(frame.url, name);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const owner = ownerOf(id);
    const ownerArea = owner ? areaOf(owner.url, owner.functionName) : area;
    owners.set(ownerArea, (owners.get(ownerArea) ?? 0) + us);
  }
  const percent = (us: number) => (busyUs ? (100 * us) / busyUs : 0);
  const ranked = (totals: Map<string, number>) =>
    [...totals]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([area, us]) => ({ area, ms: us / 1000, percent: percent(us) }));
  return {
    file,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    functions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({
        name: f.name,
        where: f.where,
        ms: f.us / 1000,
        percent: percent(f.us),
        calledFrom: [...f.callers].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '',
      })),
    areas: ranked(areas),
    owners: ranked(owners),
  };
}

export function formatProfile(summary: ProfileSummary, limit = Infinity): string {
  const lines = [
    `${basename(summary.file)}: ${(summary.busyMs / 1000).toFixed(1)} s busy, ${(summary.idleMs / 1000).toFixed(1)} s idle`,
    '  self time by function (and its main caller):',
    ...summary.functions.slice(0, limit).map((f) => `    ${f.percent.toFixed(1).padStart(5)}%  ${f.name}  ${f.where}${f.calledFrom ? `  <- ${f.calledFrom}` : ''}`),
    '  self time by area:',
    ...summary.areas.slice(0, limit).map((a) => `    ${a.percent.toFixed(1).padStart(5)}%  ${a.area}`),
    '  the same, native and Node-internal time charged to the package or file that called it:',
    ...summary.owners.slice(0, limit).map((a) => `    ${a.percent.toFixed(1).padStart(5)}%  ${a.area}`),
  ];
  return lines.join('\n');
}
