/**
 * `npm run bench`: Keyhold against a bare oidc-provider of the same version, both over real HTTP on
 * loopback, started in this run, each in its own process, driven by the same load generator
 * (autocannon in a process of its own). For every scenario and engine: throughput, p50/p99 latency,
 * errors, the ratio to the baseline, CPU per request of the server and of Postgres (from /proc), and
 * the server's peak RSS. Figures compare within one run on one machine; that is what the ratios are for.
 *
 * This process only orchestrates: it seeds the embedded Postgres, starts the servers, asks them to
 * mint codes and tokens ahead of each scenario, reads /proc around each measurement and reports.
 * Options: see lib/options.ts (`npm run bench -- --help`); the scenarios are in lib/scenarios.ts, how
 * they are measured in lib/measure.ts, and the summary and bench/results.json written by lib/results.ts.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
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
import { BENCH_DIR } from './lib/child.ts';
import { createMeasurement } from './lib/measure.ts';
import { parseOptions, USAGE, UsageError, type Options } from './lib/options.ts';
import { summariseProfile, type ProfileSummary } from './lib/profile.ts';
import { postmasterPid } from './lib/procfs.ts';
import type { BareClient, ServerConfig } from './lib/protocol.ts';
import type { Row } from './lib/report.ts';
import { signedPercent, writeResults, type ScaleSummary, type SigninSummary, type SoakSummary } from './lib/results.ts';
import { createScenarios, REDIRECT_URI, type Credentials, type Engine, type EngineSetup } from './lib/scenarios.ts';
import { expiredRows, seedClients, seedProviderRows } from './lib/seed.ts';
import { Server } from './lib/server-process.ts';

const USERS = 8;
const SCALE_CLIENTS = 100_000;
const SCALE_ROWS = 1_000_000;
const SOAK_SECONDS = 60;

const runStarted = performance.now();
/** Other work on the machine skews everything: the 1-minute load average at the start is kept with the results. */
const loadAtStart = loadavg()[0] ?? 0;
const progress = (message: string) => process.stderr.write(`${message}\n`);

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

/** The admin scenario's client (role admin), created with the others. */
let adminClient: Credentials | undefined;
let pool: Pool | undefined;
const signinUsers: Array<{ username: string; password: string }> = [];

const SCENARIOS = createScenarios({ options, progress, pool: () => pool, adminClient: () => adminClient, signinUsers });

// ---- measurement ----

let postmaster = 0;
const { measure, argon2Row } = createMeasurement({ options, progress, postmaster: () => postmaster });

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
let signin: SigninSummary | undefined;
let soak: SoakSummary | undefined;
const scale: ScaleSummary = {
  clients: SCALE_CLIENTS,
  providerRows: SCALE_ROWS,
  seedSeconds: 0,
  sweepIntervalMs: 1000,
  scenarios: [],
};
const profiles: ProfileSummary[] = [];
let postgresVersion = '';

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

await writeResults({ options, profiled: profileDir !== undefined, runStarted, loadAtStart, postgresVersion, rows, signin, soak, scale, profiles });

if (rows.some((r) => r.errors > 0 || r.warmupErrors > 0)) process.exitCode = 1;
