/**
 * `npm test`: runs the tap suite against a real Postgres. With TEST_DATABASE_URL (a server's
 * maintenance database, e.g. postgres://postgres@127.0.0.1:5432/postgres) it uses that server;
 * without it, it starts an embedded Postgres in a temporary directory and stops it afterwards.
 * Either way it prepares a migrated template database that each test file clones.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import { TEMPLATE_DATABASE, withDatabase } from './helpers/db-url.ts';

let embedded: EmbeddedDatabase | undefined;
let tempDir: string | undefined;
let serverUrl = process.env.TEST_DATABASE_URL;
if (!serverUrl) {
  tempDir = await mkdtemp(join(tmpdir(), 'keyhold-test-pg-'));
  embedded = await startEmbeddedPostgres(tempDir);
  serverUrl = withDatabase(embedded.url, 'postgres');
  process.stdout.write(`# tests run on an embedded Postgres under ${tempDir}\n`);
} else {
  process.stdout.write('# tests run on the Postgres server at TEST_DATABASE_URL\n');
}

const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
const { rows } = await admin.query<{ server_version: string }>('SHOW server_version');
process.stdout.write(`# Postgres ${rows[0]?.server_version}\n`);
await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE}`);
await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
await admin.end();
const templatePool = createPool({ connectionString: withDatabase(serverUrl, TEMPLATE_DATABASE) });
await migrate(templatePool);
await templatePool.end();

// Coverage of src/ (package.json "tap": coverage-map, lines/statements/branches/functions floors) is the
// whole suite's: a run of named test files reports it but is not held to the floors. TEST_COVERAGE=0: no coverage.
const args = process.argv.slice(2);
const tapArgs = [
  ...(process.env.TEST_COVERAGE === '0' ? ['--disable-coverage'] : []),
  ...(args.some((arg) => !arg.startsWith('-')) ? ['--allow-incomplete-coverage'] : []),
  ...args,
];

let tail = '';
const code = await new Promise<number>((resolve) => {
  const child = spawn(join(import.meta.dirname, '..', 'node_modules', '.bin', 'tap'), tapArgs, {
    stdio: ['inherit', 'pipe', 'inherit'],
    // node_modules/.bin first: the test processes run on the pinned Node 24 however this was started.
    env: {
      ...process.env,
      PATH: `${join(import.meta.dirname, '..', 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
      TEST_DATABASE_URL: serverUrl,
      TAP_TYPE_STRIP_ONLY: '1',
    },
  });
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    tail = (tail + chunk.toString()).slice(-4096);
  });
  child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
});

// tap's summary line, restated in the plain form CI reads: "N passed, N failed".
const summary = /# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?(?:, skip: (\d+))?/.exec(tail);
if (summary) {
  const [, , pass, fail = '0', skip] = summary;
  process.stdout.write(`${pass} passed, ${fail} failed${skip ? `, ${skip} skipped` : ''}\n`);
}
const below = new Set([...tail.matchAll(/# ERROR: incomplete (\w+) coverage \(([\d.]+%)\)/g)].map((m) => `${m[1]} ${m[2]}`));
if (below.size && !tapArgs.includes('--allow-incomplete-coverage')) {
  process.stdout.write(`coverage of src/ below its floor (package.json "tap"): ${[...below].join(', ')}\n`);
}

await embedded?.stop();
if (tempDir) await rm(tempDir, { recursive: true, force: true });
process.exit(code);
