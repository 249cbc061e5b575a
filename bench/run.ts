/**
 * `npm run bench`: measures Keyhold's endpoints over real HTTP on loopback and prints a table of
 * throughput and latency, each as a ratio against a bare Fastify hello-world measured side by side on
 * the same machine (and the client-secret cache against argon2 on every request). Figures are only
 * comparable within one run; that is what the ratios are for.
 *
 * BENCH_SECONDS (default 5) and BENCH_CONCURRENCY (default 16) tune each scenario.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import { hashSecret } from '../src/passwords.ts';
import { createClientsRepo } from '../src/repos/clients.ts';
import { createKeysRepo } from '../src/repos/keys.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const root = join(import.meta.dirname, '..');
const node = join(root, 'node_modules', '.bin', 'node');

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function startServer(args: string[]): Promise<{ origin: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(node, [join(root, 'bench', 'server.ts'), args[0]!, String(port), ...args.slice(1)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('READY') && resolve());
    child.on('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  return { origin: `http://127.0.0.1:${port}`, child };
}

interface Result {
  name: string;
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
}

/** Keeps CONCURRENCY requests in flight for SECONDS; every answer must have the expected status. */
async function load(name: string, make: () => Promise<Response>, expected = 200): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  // Warm-up: JIT, connection pools and caches.
  for (let i = 0; i < 20; i++) await (await make()).arrayBuffer();
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const response = await make();
        await response.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (response.status !== expected) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { name, requests: latencies.length, errors, rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) };
}

const tempDir = await mkdtemp(join(tmpdir(), 'keyhold-bench-'));
const pg = await startEmbeddedPostgres(tempDir);
const pool = createPool({ connectionString: pg.url });
const servers: ChildProcess[] = [];
try {
  await migrate(pool);
  await createKeysRepo(pool).ensure();
  const secret = randomBytes(32).toString('base64url');
  const { client } = await createClientsRepo(pool).create(
    { type: 'client-credentials', name: 'bench' },
    { description: 'bench', hash: await hashSecret(secret), expiresAt: null },
  );
  const basic = `Basic ${Buffer.from(`${client.id}:${secret}`).toString('base64')}`;

  const bare = await startServer(['bare']);
  const keyhold = await startServer(['keyhold', pg.url, 'on']);
  const uncached = await startServer(['keyhold', pg.url, 'off']);
  servers.push(bare.child, keyhold.child, uncached.child);

  const tokenRequest = (origin: string) => () =>
    fetch(`${origin}/token`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
  const token = (await (await tokenRequest(keyhold.origin)()).json()) as { access_token?: string };
  if (!token.access_token) throw new Error(`no token: ${JSON.stringify(token)}`);

  const results: Result[] = [];
  const hello = () => fetch(`${bare.origin}/hello`);
  await load('warm-up', hello); // the load generator's own JIT and sockets
  const baselineBefore = await load('baseline: bare Fastify GET /hello', hello);
  results.push(baselineBefore);
  results.push(await load('GET /.well-known/openid-configuration', () => fetch(`${keyhold.origin}/.well-known/openid-configuration`)));
  results.push(await load('GET /jwks', () => fetch(`${keyhold.origin}/jwks`)));
  results.push(await load('GET /readyz (database round trip)', () => fetch(`${keyhold.origin}/readyz`)));
  results.push(await load('POST /token client_credentials (secret cache)', tokenRequest(keyhold.origin)));
  results.push(await load('POST /token client_credentials (argon2 every request)', tokenRequest(uncached.origin)));
  results.push(
    await load('POST /token/introspection (secret cache)', () =>
      fetch(`${keyhold.origin}/token/introspection`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: token.access_token! }).toString(),
      }),
    ),
  );

  // The baseline runs first and last; the table compares against the mean of the two.
  const baselineAfter = await load('baseline again', hello);
  const baseline = { ...baselineBefore, rps: (baselineBefore.rps + baselineAfter.rps) / 2 };
  results[0] = { ...baselineBefore, name: `baseline: bare Fastify GET /hello (first ${baselineBefore.rps.toFixed(0)}, last ${baselineAfter.rps.toFixed(0)})`, rps: baseline.rps };
  const pad = (s: string, n: number) => s.padEnd(n);
  const num = (n: number, d = 0) => n.toFixed(d).padStart(9);
  process.stdout.write(`\nKeyhold benchmarks: ${SECONDS}s per scenario, ${CONCURRENCY} concurrent requests, Node ${process.version}\n\n`);
  process.stdout.write(`${pad('scenario', 66)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'vs bare'.padStart(9)} ${'errors'.padStart(7)}\n`);
  process.stdout.write(`${'-'.repeat(114)}\n`);
  for (const r of results) {
    process.stdout.write(`${pad(r.name, 66)} ${num(r.rps)} ${num(r.p50, 2)} ${num(r.p99, 2)} ${num(r.rps / baseline.rps, 3)} ${String(r.errors).padStart(7)}\n`);
  }
  const cached = results.find((r) => r.name.includes('client_credentials (secret cache)'))!;
  const argon = results.find((r) => r.name.includes('argon2 every request'))!;
  process.stdout.write(`\nsecret cache speed-up on the token endpoint: ${(cached.rps / argon.rps).toFixed(1)}x throughput, p50 ${(argon.p50 / cached.p50).toFixed(1)}x lower\n`);
  if (results.some((r) => r.errors > 0)) process.exitCode = 1;
} finally {
  for (const child of servers) child.kill('SIGTERM');
  await pool.end();
  await pg.stop();
  await rm(tempDir, { recursive: true, force: true });
}
