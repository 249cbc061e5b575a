import t from 'tap';
import { runCli } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/db.ts';

/** With LOG_LEVEL set, the CLI's logs go to stderr: stdout holds its answer alone, one JSON document under --json. */

const DEBUG = { LOG_LEVEL: 'debug' };

/** The log lines on stderr: JSON (stderr is a pipe, not a terminal), each from the keyhold service. */
function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

t.test('migrate --json on an empty database: the answer on stdout, the log of what was applied on stderr', async (t) => {
  const db = await createTestDatabase(t, { empty: true });
  const run = await runCli(db.url, ['migrate', '--json'], DEBUG);
  t.equal(run.code, 0, run.stderr);
  const answer = JSON.parse(run.stdout);
  t.ok(Array.isArray(answer.applied) && answer.applied.length > 0, 'stdout parses as one JSON document');
  const logs = logLines(run.stderr);
  t.ok(logs.some((l) => l.msg === 'migrations applied' && l.service === 'keyhold'), 'the log line went to stderr');
  t.notMatch(run.stdout, /"level"/, 'no log line on stdout');
});

t.test('clients create, users create and keys list with --json under LOG_LEVEL=debug: stdout is exactly one JSON document', async (t) => {
  const db = await createTestDatabase(t);
  const runs = {
    'clients create': await runCli(db.url, ['clients', 'create', '--type', 'client-credentials', '--name', 'Automation', '--json'], DEBUG),
    'users create': await runCli(db.url, ['users', 'create', '--username', 'alice', '--json'], DEBUG),
    'keys list': await runCli(db.url, ['keys', 'list', '--json'], DEBUG),
    'clients list': await runCli(db.url, ['clients', 'list', '--json'], DEBUG),
  };
  for (const [name, run] of Object.entries(runs)) {
    t.equal(run.code, 0, `${name}: ${run.stderr}`);
    t.doesNotThrow(() => JSON.parse(run.stdout), `${name}: stdout parses as one JSON document`);
    t.notMatch(run.stdout, /"level"/, `${name}: no log line on stdout`);
    t.doesNotThrow(() => logLines(run.stderr), `${name}: stderr holds only JSON log lines`);
  }
  t.match(JSON.parse(runs['clients create'].stdout), { client: { name: 'Automation' }, secret: { value: String } });
  t.match(JSON.parse(runs['users create'].stdout), { username: 'alice' });
  t.same(JSON.parse(runs['clients list'].stdout).items.map((c: { name: string }) => c.name), ['Automation']);
});

t.test('a failing command under LOG_LEVEL=debug: its one-line message on stderr, nothing on stdout', async (t) => {
  const db = await createTestDatabase(t);
  const run = await runCli(db.url, ['clients', 'delete', '00000000-0000-0000-0000-000000000000', '--json'], DEBUG);
  t.equal(run.code, 1);
  t.equal(run.stdout, '');
  t.match(run.stderr, /^keyhold clients delete: .+\n$/m);
});
