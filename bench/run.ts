/**
 * `npm run bench`: Keyhold against a bare oidc-provider of the same version, both over real HTTP on
 * loopback, started in this run, each in its own process, driven by the same load generator
 * (autocannon in a process of its own). For every scenario and engine: throughput, p50/p99 latency,
 * errors, the ratio to the baseline, CPU per request of the server and of Postgres (from /proc), and
 * the server's peak RSS. Figures compare within one run on one machine; that is what the ratios are for.
 *
 * This process only orchestrates: it seeds the embedded Postgres, starts the servers, asks them to
 * mint codes and tokens ahead of each scenario, reads /proc around each measurement and reports.
 * Options: see lib/options.ts (`npm run bench -- --help`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool, type Pool } from '../src/db/pool.ts';
import { createClientsRepo } from '../src/repos/clients.ts';
import { createProviderModelsRepo } from '../src/repos/provider-models.ts';
import { createUsersRepo } from '../src/repos/users.ts';
import { createClientsService } from '../src/services/clients.ts';
import { createUsersService } from '../src/services/users.ts';
import { createLockouts } from '../src/security/lockouts.ts';
import { createAuditTrail } from '../src/audit.ts';
import { CLI } from '../src/services/audit-context.ts';
import { loadConfig } from '../src/config.ts';
import { BENCH_DIR, Child } from './lib/child.ts';
import { parseOptions, USAGE, UsageError, type Options, type ScenarioName } from './lib/options.ts';
import { formatProfile, summariseProfile, type ProfileSummary } from './lib/profile.ts';
import { peakRssMb, postmasterPid, resetPeakRss, rssMb, treeCpuMs } from './lib/procfs.ts';
import type { Argon2Result, BareClient, FromArgon2, FromLoadgen, LoadJob, LoadResult, ServerConfig, ToArgon2, ToLoadgen } from './lib/protocol.ts';
import { markdownTable, perSecond, textTable, type Row } from './lib/report.ts';
import { expiredRows, seedClients, seedProviderRows } from './lib/seed.ts';
import { Server } from './lib/server-process.ts';

const REDIRECT_URI = 'https://app.example.com/callback';
/** Codes and refresh tokens carry offline_access, so a code exchange also issues a refresh token. */
const TOKEN_SCOPE = 'openid profile email offline_access';
const ACCESS_SCOPE = 'openid profile email';
const FORM = 'application/x-www-form-urlencoded';
const USERS = 8;
/** Access tokens minted once per engine, sent in turn by introspection and userinfo. */
const ACCESS_TOKENS = 2000;
const ADMIN_CLIENTS = 10_000;
const SCALE_CLIENTS = 100_000;
const SCALE_ROWS = 1_000_000;
const SOAK_SECONDS = 60;
/** Authorization codes live 60 s: minting plus the measurement must fit in that. */
const CODE_MAX_SECONDS = 40;
/** Once-only values minted for a measured run, over what the calibration run's rate says it will use. */
const MINT_MARGIN = 2;
/** The calibration run has no rate to go by yet: this many values per second of it (it ends early if they run out). */
const CALIBRATION_RATE_GUESS = 1000;

const runStarted = performance.now();
/** Other work on the machine skews everything: the 1-minute load average at the start is kept with the results. */
const loadAtStart = loadavg()[0] ?? 0;
const progress = (message: string) => process.stderr.write(`${message}\n`);
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const basic = (c: Credentials) => `Basic ${Buffer.from(`${encodeURIComponent(c.id)}:${encodeURIComponent(c.secret)}`).toString('base64')}`;
const verifier = randomBytes(32).toString('base64url');
const pkce = { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };

let options: Options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`${err.message ? `${err.message}\n\n` : ''}${USAGE}\n`);
  process.exit(err.message ? 2 : 0);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

// ---- server processes ----

const profileDir = process.env.BENCH_PROFILE === '1' ? join(BENCH_DIR, 'profiles') : undefined;
const profileStamp = new Date().toISOString().replace(/[:.]/g, '-');
/** Starts a server process; under BENCH_PROFILE=1, Keyhold's writes bench/profiles/<label>-<run>.cpuprofile. */
const startServer = (config: ServerConfig, label: string) =>
  Server.start(config, { log: progress, ...(profileDir && config.engine === 'keyhold' ? { profile: { dir: profileDir, name: `${label}-${profileStamp}` } } : {}) });

interface Credentials {
  id: string;
  secret: string;
}

/** An engine under test: how to start it, and the clients and accounts it knows. */
interface EngineSetup {
  name: 'keyhold' | 'bare';
  config: () => Promise<ServerConfig>;
  /** A client-credentials client: the token scenario, and the resource server that introspects. */
  resourceServer: Credentials;
  /** A hybrid client with refresh tokens: codes, refresh tokens and access tokens are issued to it. */
  app: Credentials;
  accountIds: string[];
  /** Access tokens for introspection and userinfo; Keyhold's outlive its process (they are rows in Postgres). */
  tokens: { access?: string[] };
}

/** An engine with a server process running for one scenario. */
interface Engine extends EngineSetup {
  server: Server;
}

/** One run of the load generator in a fresh process; `onMeasuring` fires when its warm-up ends. */
async function runLoad(job: LoadJob, onMeasuring?: () => void): Promise<LoadResult> {
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

// ---- scenarios ----

interface Phase {
  warmupSeconds: number;
  seconds: number;
  /** Units per second seen in a calibration run; absent for the calibration run itself. */
  expectedRate?: number;
}

interface Scenario {
  name: ScenarioName;
  title: string;
  engines: Array<Engine['name']>;
  unit: Row['unit'];
  maxSeconds?: number;
  /** Warm-up within the run, when not the default one. */
  warmupSeconds?: number;
  /**
   * Uses once-only values (codes, refresh tokens): a short calibration run first shows how fast they
   * go, so the measured run gets enough of them without minting far too many.
   */
  calibrate?: boolean;
  /** Runs once the server is up, before the measurement. */
  prepare?(engine: Engine): Promise<void>;
  /** The load generator's job for one run, minting first whatever it uses up. */
  job(engine: Engine, phase: Phase): Promise<LoadJob>;
}

/** How many once-only values a run needs: what the rate says, with a margin, never fewer than a few per connection. */
function onceCount(phase: Phase): number {
  const seconds = phase.warmupSeconds + phase.seconds;
  const expected = phase.expectedRate === undefined ? CALIBRATION_RATE_GUESS * seconds : phase.expectedRate * seconds * MINT_MARGIN;
  return Math.max(options.connections * 4, Math.ceil(expected));
}

const accessTokensOf = async (e: Engine) =>
  (e.tokens.access ??= await e.server.mint({ kind: 'access', count: ACCESS_TOKENS, clientId: e.app.id, accountIds: e.accountIds, scope: ACCESS_SCOPE }));

const http = (e: Engine, phase: Phase, rest: Omit<Extract<LoadJob, { kind: 'http' }>, 'kind' | 'origin' | 'connections' | 'seconds' | 'warmupSeconds'>): LoadJob => ({
  kind: 'http',
  origin: e.server.origin,
  connections: options.connections,
  warmupSeconds: phase.warmupSeconds,
  seconds: phase.seconds,
  ...rest,
});

/** Values minted beforehand (codes, refresh tokens), each sent once to the token endpoint by the app. */
const eachOnceAtTokenEndpoint = (e: Engine, phase: Phase, values: string[], body: (value: string) => Record<string, string>) =>
  http(e, phase, {
    once: true,
    request: { method: 'POST', path: '/token', headers: { authorization: basic(e.app), 'content-type': FORM } },
    variants: values.map((value) => ({ body: form(body(value)) })),
  });

let adminToken: string | undefined;
/** The admin scenario's client (role admin), created with the others. */
let adminClient: Credentials | undefined;
let pool: Pool | undefined;
const signinUsers: Array<{ username: string; password: string }> = [];

const SCENARIOS: Scenario[] = [
  {
    name: 'client_credentials',
    title: 'client_credentials token',
    engines: ['bare', 'keyhold'],
    unit: 'request',
    job: async (e, phase) =>
      http(e, phase, {
        once: false,
        request: { method: 'POST', path: '/token', headers: { authorization: basic(e.resourceServer), 'content-type': FORM }, body: 'grant_type=client_credentials' },
      }),
  },
  {
    name: 'code',
    title: 'authorization code exchange',
    engines: ['bare', 'keyhold'],
    unit: 'request',
    maxSeconds: CODE_MAX_SECONDS,
    calibrate: true,
    job: async (e, phase) => {
      const codes = await e.server.mint({
        kind: 'code',
        count: onceCount(phase),
        clientId: e.app.id,
        accountIds: e.accountIds,
        scope: TOKEN_SCOPE,
        redirectUri: REDIRECT_URI,
        codeChallenge: pkce.challenge,
      });
      return eachOnceAtTokenEndpoint(e, phase, codes, (code) => ({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: pkce.verifier }));
    },
  },
  {
    name: 'refresh',
    title: 'refresh (rotating)',
    engines: ['bare', 'keyhold'],
    unit: 'request',
    calibrate: true,
    job: async (e, phase) => {
      const tokens = await e.server.mint({ kind: 'refresh', count: onceCount(phase), clientId: e.app.id, accountIds: e.accountIds, scope: TOKEN_SCOPE });
      return eachOnceAtTokenEndpoint(e, phase, tokens, (token) => ({ grant_type: 'refresh_token', refresh_token: token }));
    },
  },
  {
    name: 'introspection',
    title: 'introspection',
    engines: ['bare', 'keyhold'],
    unit: 'request',
    job: async (e, phase) =>
      http(e, phase, {
        once: false,
        request: { method: 'POST', path: '/token/introspection', headers: { authorization: basic(e.resourceServer), 'content-type': FORM } },
        variants: (await accessTokensOf(e)).map((token) => ({ body: form({ token, token_type_hint: 'access_token' }) })),
      }),
  },
  {
    name: 'userinfo',
    title: 'userinfo',
    engines: ['bare', 'keyhold'],
    unit: 'request',
    job: async (e, phase) =>
      http(e, phase, {
        once: false,
        request: { method: 'GET', path: '/me', headers: {} },
        variants: (await accessTokensOf(e)).map((token) => ({ headers: { authorization: `Bearer ${token}` } })),
      }),
  },
  {
    name: 'signin',
    title: 'full sign-in (5 requests)',
    engines: ['keyhold'],
    unit: 'sign-in',
    // A sign-in waits its turn for argon2id (over a second at 32 connections): the pipeline needs
    // longer to fill before the measurement starts.
    warmupSeconds: 4,
    job: async (e, phase) => ({
      kind: 'signin',
      origin: e.server.origin,
      connections: options.connections,
      warmupSeconds: phase.warmupSeconds,
      seconds: phase.seconds,
      signin: { clientId: e.app.id, clientSecret: e.app.secret, redirectUri: REDIRECT_URI, scope: ACCESS_SCOPE, users: signinUsers },
    }),
  },
  {
    name: 'admin',
    title: `admin API first page (${(ADMIN_CLIENTS / 1000).toFixed(0)}k clients)`,
    engines: ['keyhold'],
    unit: 'request',
    prepare: async (e) => {
      const added = await seedClients(pool!, ADMIN_CLIENTS);
      progress(`    seeded ${added.toLocaleString('en-US')} clients`);
      const answer = await fetch(`${e.server.origin}/token`, {
        method: 'POST',
        headers: { authorization: basic(adminClient!), 'content-type': FORM },
        body: form({ grant_type: 'client_credentials', scope: 'admin' }),
      });
      const token = (await answer.json()) as { access_token?: string };
      if (!token.access_token) throw new Error(`no admin token: ${answer.status} ${JSON.stringify(token)}`);
      adminToken = token.access_token;
    },
    job: async (e, phase) =>
      http(e, phase, { once: false, request: { method: 'GET', path: '/api/v1/clients', headers: { authorization: `Bearer ${adminToken}` } } }),
  },
];

// ---- measurement ----

interface CpuSample {
  server: number;
  postgres: number | null;
}

let postmaster = 0;
const cpuNow = (e: Engine): CpuSample => ({ server: treeCpuMs(e.server.pid), postgres: e.name === 'keyhold' ? treeCpuMs(postmaster) : null });

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

// ---- the run ----

const tempDir = await mkdtemp(join(tmpdir(), 'keyhold-bench-'));
// As root, Postgres runs as the `postgres` user, which must be able to enter the directory.
if (process.getuid?.() === 0) await chmod(tempDir, 0o755);
let pg: EmbeddedDatabase | undefined;
const servers = new Set<Server>();
let cleaning: Promise<void> | undefined;

function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...servers].map((s) => s.stop().catch(() => undefined)));
    await pool?.end().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
    await rm(tempDir, { recursive: true, force: true });
  })();
  return cleaning;
}
process.once('SIGINT', () => {
  progress('interrupted: stopping the servers and Postgres');
  void cleanUp().finally(() => process.exit(130));
});

/**
 * Every scenario gets freshly started servers: the bare engine's memory store and each process's JIT
 * and heap start alike, and peak RSS belongs to the scenario. `label` names the CPU profile.
 */
async function withServer<T>(setup: EngineSetup, label: string, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const server = await startServer(await setup.config(), label);
  servers.add(server);
  try {
    // Keyhold's tokens live in Postgres and outlive the process; the bare engine's die with it.
    return await fn({ ...setup, server, tokens: setup.name === 'keyhold' ? setup.tokens : {} });
  } finally {
    await server.stop();
    servers.delete(server);
  }
}

const rows: Row[] = [];
let signin: { rate: number; argon2: Argon2Result; ratio: number } | undefined;
let soak:
  | {
      seconds: number;
      rssStartMb: number | null;
      rssEndMb: number | null;
      growthPercent: number | null;
      growthSecondHalfPercent: number | null;
      rssTrace: Array<[number, number]>;
    }
  | undefined;
const signedPercent = (p: number | null) => (p === null ? '?' : `${p >= 0 ? '+' : ''}${p.toFixed(1)}%`);
const scale: { clients: number; providerRows: number; seedSeconds: number; sweepIntervalMs: number; scenarios: Array<Record<string, unknown>> } = {
  clients: SCALE_CLIENTS,
  providerRows: SCALE_ROWS,
  seedSeconds: 0,
  sweepIntervalMs: 1000,
  scenarios: [],
};
const profiles: ProfileSummary[] = [];
let postgresVersion = '';

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

try {
  progress(`Keyhold benchmark: ${options.seconds} s per scenario after ${options.warmupSeconds} s of warm-up, ${options.connections} connections`);
  progress('starting the embedded Postgres and seeding');
  pg = await startEmbeddedPostgres(tempDir);
  postmaster = postmasterPid(join(tempDir, 'postgres'));
  pool = createPool({ connectionString: pg.url, max: 4 });
  await migrate(pool);
  postgresVersion = (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '';

  const models = createProviderModelsRepo(pool);
  const audit = createAuditTrail(pool, { retentionDays: 90 });
  const clientsService = createClientsService({ clients: createClientsRepo(pool), models, audit });
  const usersService = createUsersService({ users: createUsersRepo(pool), models, lockouts: createLockouts(pool, loadConfig({}).lockout), audit });
  const created = async (body: Record<string, unknown>): Promise<Credentials> => {
    const { client, secret } = await clientsService.create(body, CLI);
    if (!secret) throw new Error(`client ${client.name} came without a secret`);
    return { id: client.id, secret: secret.value };
  };
  const resourceServer = await created({ type: 'client-credentials', name: 'bench resource server' });
  const app = await created({ type: 'hybrid', name: 'bench app', redirectUris: [REDIRECT_URI], allowRefreshToken: true });
  adminClient = await created({ type: 'client-credentials', name: 'bench-admin', roles: ['admin'] });
  const password = randomBytes(12).toString('base64url');
  const accountIds: string[] = [];
  for (let i = 0; i < USERS; i++) {
    const username = `bench-user-${i}`;
    const user = await usersService.create({ username, password, name: `Bench User ${i}`, email: `${username}@example.com` }, CLI);
    accountIds.push(user.id);
    signinUsers.push({ username, password });
  }

  const databaseUrl = pg.url;
  const encryptionKey = randomBytes(32).toString('base64');
  const bareClients: BareClient[] = [
    { clientId: 'bench-resource-server', secret: randomBytes(32).toString('base64url'), kind: 'client-credentials', redirectUris: [] },
    { clientId: 'bench-app', secret: randomBytes(32).toString('base64url'), kind: 'app', redirectUris: [REDIRECT_URI] },
  ];
  const keyhold: EngineSetup = {
    name: 'keyhold',
    config: async () => ({ engine: 'keyhold', port: await freePort(), databaseUrl, encryptionKey }),
    resourceServer,
    app,
    accountIds,
    tokens: {},
  };
  const engines: Record<EngineSetup['name'], EngineSetup> = {
    bare: {
      name: 'bare',
      config: async () => ({ engine: 'bare', port: await freePort(), clients: bareClients }),
      resourceServer: { id: bareClients[0]!.clientId, secret: bareClients[0]!.secret },
      app: { id: bareClients[1]!.clientId, secret: bareClients[1]!.secret },
      accountIds: Array.from({ length: USERS }, (_, i) => `bench-account-${i}`),
      tokens: {},
    },
    keyhold,
  };

  for (const scenario of SCENARIOS.filter((s) => options.only.includes(s.name))) {
    progress(`${scenario.title}`);
    const measured: Partial<Record<EngineSetup['name'], Row>> = {};
    for (const name of scenario.engines) {
      const row = await withServer(engines[name], `${name}-${scenario.name}`, async (engine) => {
        await scenario.prepare?.(engine);
        return measure(scenario, engine, 'default', options.seconds);
      });
      measured[name] = row;
      rows.push(row);
    }
    if (measured.bare && measured.keyhold) {
      measured.keyhold.ratio = measured.keyhold.rate / measured.bare.rate;
      measured.keyhold.baseline = 'bare';
    }
    if (scenario.name === 'signin' && measured.keyhold) {
      const yardstick = await argon2Row();
      rows.push(yardstick);
      const ratio = measured.keyhold.rate / yardstick.rate;
      measured.keyhold.ratio = ratio;
      measured.keyhold.baseline = 'argon2id';
      signin = {
        rate: measured.keyhold.rate,
        argon2: { verifies: yardstick.completed, elapsedS: yardstick.elapsedS, rate: yardstick.rate, p50Ms: yardstick.p50Ms, p99Ms: yardstick.p99Ms },
        ratio,
      };
      progress(`    sign-ins/s ÷ argon2id verifies/s = ${ratio.toFixed(2)} (target 0.8)`);
    }
  }

  if (options.soak) {
    progress(`soak: client_credentials on Keyhold for ${SOAK_SECONDS} s`);
    const row = await withServer(keyhold, 'keyhold-soak', (engine) => measure(SCENARIOS[0]!, engine, 'soak', SOAK_SECONDS, { rssEveryMs: 5000 }));
    const growth = row.rssStartMb && row.rssEndMb ? (100 * (row.rssEndMb - row.rssStartMb)) / row.rssStartMb : null;
    // A heap growing to its working size and a leak both grow from the start; only a leak keeps growing.
    const trace = row.rssTrace ?? [];
    const middle = trace.find(([at]) => at >= SOAK_SECONDS / 2)?.[1];
    const secondHalf = middle && row.rssEndMb ? (100 * (row.rssEndMb - middle)) / middle : null;
    soak = { seconds: SOAK_SECONDS, rssStartMb: row.rssStartMb, rssEndMb: row.rssEndMb, growthPercent: growth, growthSecondHalfPercent: secondHalf, rssTrace: trace };
    row.notes.push(`RSS ${row.rssStartMb?.toFixed(0)} MB at start, ${row.rssEndMb?.toFixed(0)} MB at end (${signedPercent(growth)}; ${signedPercent(secondHalf)} over the second half)`);
    rows.push(row);
  }

  if (options.scale) {
    progress(`scale: seeding ${SCALE_CLIENTS.toLocaleString('en-US')} clients and ${SCALE_ROWS.toLocaleString('en-US')} provider rows (half of them expired)`);
    const seedStarted = performance.now();
    await seedClients(pool, SCALE_CLIENTS);
    await seedProviderRows(pool, SCALE_ROWS);
    // Statistics and the visibility map as a database this size would have them in production.
    await pool.query('VACUUM ANALYZE clients, client_secrets, oidc_payloads');
    scale.seedSeconds = (performance.now() - seedStarted) / 1000;
    progress(`    seeded in ${scale.seedSeconds.toFixed(0)} s; Keyhold now sweeps expired rows every ${scale.sweepIntervalMs} ms`);
    const sweeping: EngineSetup = {
      ...keyhold,
      config: async () => ({ ...(await keyhold.config()), sweepIntervalMs: scale.sweepIntervalMs }),
    };
    for (const name of ['client_credentials', 'introspection'] as const) {
      const scenario = SCENARIOS.find((s) => s.name === name)!;
      let expiredBefore = 0;
      let expiredAfter = 0;
      const row = await withServer(sweeping, `keyhold-scale-${name}`, (engine) =>
        measure(scenario, engine, 'scale', options.seconds, {
          before: async () => void (expiredBefore = await expiredRows(pool!)),
          after: async () => void (expiredAfter = await expiredRows(pool!)),
        }),
      );
      const empty = rows.find((r) => r.scenario === name && r.engine === 'keyhold' && r.phase === 'default');
      if (empty) {
        row.ratio = row.rate / empty.rate;
        row.baseline = 'empty db';
      }
      row.notes.push(
        `expired rows ${expiredBefore.toLocaleString('en-US')} before the run, ${expiredAfter.toLocaleString('en-US')} after`,
        `p99 ${empty ? `${empty.p99Ms.toFixed(1)} ms on the empty database, ` : ''}${row.p99Ms.toFixed(1)} ms here`,
      );
      scale.scenarios.push({ scenario: name, ratioToEmpty: row.ratio, p99EmptyMs: empty?.p99Ms ?? null, p99ScaledMs: row.p99Ms, expiredBefore, expiredAfter });
      rows.push(row);
    }
  }
} catch (err) {
  process.exitCode = 1;
  progress(`\nthe benchmark stopped: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
} finally {
  await cleanUp();
}

if (profileDir) {
  for (const file of (await readdir(profileDir).catch(() => [])).filter((f) => f.endsWith(`${profileStamp}.cpuprofile`)).sort()) {
    profiles.push(summariseProfile(join(profileDir, file)));
  }
}

// ---- report ----

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
      options: { ...options, profiled: profileDir !== undefined },
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

if (rows.some((r) => r.errors > 0 || r.warmupErrors > 0)) process.exitCode = 1;
