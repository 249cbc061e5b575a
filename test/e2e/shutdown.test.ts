import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { loadConfig } from '../../src/config.ts';
import { SHUTDOWN_GRACE_SECONDS } from '../../src/http/drain.ts';
import { createClientsRepo } from '../../src/repos/clients.ts';
import { freePort, TEST_ENCRYPTION_KEY } from '../helpers/app.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { basicAuth, createClient } from '../helpers/fixtures.ts';
import { startServer } from '../helpers/server-process.ts';

const DRAIN_SECONDS = 3;
const LOOPS = 16;

interface Answer {
  at: number;
  status?: number;
  connection?: string | undefined;
  /** The error's code, when the request got no answer. */
  error?: string;
}

/** One request over `agent`; never rejects: an answer, or the error it met. */
function send(agent: Agent, url: URL, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(url, { agent, method: init.method, headers: init.headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ at: Date.now(), status: res.statusCode!, connection: res.headers.connection }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ at: Date.now(), error: err.code ?? err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ at: Date.now(), error: err.code ?? err.message }));
    req.end(init.body);
  });
}

t.test('SIGTERM under load: /readyz turns 503 first, then no accepted request fails, and the process exits 0 in time', async (t) => {
  const db = await createTestDatabase(t);
  const { client, secret } = await createClient(createClientsRepo(db.pool), {
    type: 'client-credentials',
    name: 'Load',
    redirectUris: [],
    postLogoutRedirectUris: [],
  });
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const server = await startServer({
    PORT: String(port),
    ISSUER: origin,
    DATABASE_URL: db.url,
    ENCRYPTION_KEYS: TEST_ENCRYPTION_KEY,
    ADMIN_PASSWORD: 'shutdown-test-password',
    SHUTDOWN_DRAIN_SECONDS: String(DRAIN_SECONDS),
    LOG_LEVEL: 'info',
  });
  t.teardown(() => void server.child.kill('SIGKILL'));

  // 16 loops, each on a keep-alive connection of its own, until the server refuses connections.
  const token = new URL(`${origin}/token`);
  const headers = { authorization: basicAuth(client.id, secret), 'content-type': 'application/x-www-form-urlencoded' };
  const answers: Answer[][] = [];
  let stopped = false;
  const loops = Array.from({ length: LOOPS }, async (_, i) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const mine: Answer[] = (answers[i] = []);
    for (;;) {
      const answer = await send(agent, token, { method: 'POST', headers, body: 'grant_type=client_credentials' });
      mine.push(answer);
      // Refused: the listener is closed (a load balancer's cue to go elsewhere). Anything else goes on.
      if (answer.error === 'ECONNREFUSED' || stopped) break;
    }
    agent.destroy();
  });

  // /readyz polled on fresh connections, as a load balancer probes.
  const probes: Answer[] = [];
  const probing = (async () => {
    const agent = new Agent({ keepAlive: false });
    for (;;) {
      const answer = await send(agent, new URL(`${origin}/readyz`), { method: 'GET' });
      probes.push(answer);
      if (answer.error || stopped) break;
      await sleep(100);
    }
  })();

  const served = () => answers.flat().filter((a) => a.status === 200).length;
  while (served() < 300) await sleep(20);
  const sigterm = Date.now();
  server.child.kill('SIGTERM');
  const exit = await Promise.race([server.exited, sleep((DRAIN_SECONDS + SHUTDOWN_GRACE_SECONDS + 15) * 1000, undefined, { ref: false })]);
  const exitedAt = Date.now();
  stopped = true;
  await Promise.all([...loops, probing]);

  t.ok(exit, 'the process exited');
  t.equal(exit?.code, 0, 'with code 0 (past the grace period it would exit 1)');
  t.ok(exitedAt - sigterm <= (DRAIN_SECONDS + SHUTDOWN_GRACE_SECONDS) * 1000, `within the grace period (${exitedAt - sigterm} ms)`);

  const all = answers.flat();
  const failed = all.filter((a) => a.error !== 'ECONNREFUSED' && a.status !== 200);
  t.same(failed, [], `no accepted request failed (${all.length} requests: ${served()} answered 200, ${all.length - served() - failed.length} refused a connection)`);
  t.ok(all.filter((a) => a.at > sigterm && a.status === 200).length > 0, 'requests were answered after SIGTERM');

  const firstUnready = probes.find((p) => p.at > sigterm && p.status === 503);
  t.ok(probes.some((p) => p.at < sigterm && p.status === 200), '/readyz said 200 before SIGTERM');
  t.ok(firstUnready, '/readyz said 503 after SIGTERM');
  const answeredWhileUnready = all.filter((a) => a.status === 200 && firstUnready && a.at > firstUnready.at).length;
  t.ok(answeredWhileUnready > 0, `requests were still answered while /readyz said 503 (${answeredWhileUnready})`);
  t.ok(
    // Once it said 503, never 200 again. (A probe answered a moment after kill() was called may still be
    // a 200: the signal reaches the process asynchronously.)
    probes.every((p) => !firstUnready || p.at <= firstUnready.at || p.status !== 200),
    '/readyz never said 200 again once shutting down',
  );

  // Each loop ended on a refused connection, after its last answer announced `Connection: close`.
  for (const [i, mine] of answers.entries()) {
    t.equal(mine.at(-1)?.error, 'ECONNREFUSED', `loop ${i}: ended on a refused connection`);
    t.equal(mine.at(-2)?.connection, 'close', `loop ${i}: its last answer said Connection: close`);
  }
  t.match(server.output(), /"msg":"shutting down"/);
});

t.test('SHUTDOWN_DRAIN_SECONDS: 5 by default, 0 to 300', async (t) => {
  t.equal(loadConfig({}).shutdownDrainSeconds, 5);
  t.equal(loadConfig({ SHUTDOWN_DRAIN_SECONDS: '0' }).shutdownDrainSeconds, 0);
  t.equal(loadConfig({ SHUTDOWN_DRAIN_SECONDS: '300' }).shutdownDrainSeconds, 300);
  for (const bad of ['301', '-1', '2.5', 'soon']) t.throws(() => loadConfig({ SHUTDOWN_DRAIN_SECONDS: bad }), `SHUTDOWN_DRAIN_SECONDS=${bad}`);
});
