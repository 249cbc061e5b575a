import { Agent as HttpAgent, request, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import t from 'tap';
import { createPool } from '../../src/db/pool.ts';
import { adminToken } from '../helpers/admin.ts';
import { startTestApp } from '../helpers/app.ts';
import { loginForm } from '../helpers/browserless.ts';
import { basicAuth, createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, APP_REDIRECT, authorize, codeRequest } from '../helpers/flow.ts';
import { startPrivatePostgres } from '../helpers/private-postgres.ts';

/**
 * The operators' scenario: Keyhold under a steady load (8 keep-alive loops) while its Postgres server
 * (the test's own, see test/helpers/private-postgres.ts) is stopped and started again. Every answer is
 * classified by when it came: only 200s before, only 503s (as each kind of endpoint answers them) while
 * the server is down, only 200s once service has resumed; never a 500, never a failed connection. So
 * that requests are certainly in flight inside Postgres at the stop, the test holds a lock they wait on
 * when it stops the server.
 */

const LOOPS = 8;
/** Load before the outage, in ms. */
const LOAD_BEFORE_MS = 1000;
/** How long the server stays down, in ms. */
const DOWN_MS = 2500;
/**
 * The settle window: answers to requests sent within 1 s of the first 200 that follows the restart may
 * still be 503 (connections being opened again); every request sent after it must be answered 200.
 */
const SETTLE_MS = 1000;
/** Load once the window is over, in ms. */
const LOAD_AFTER_MS = 3000;
/** The bound on the first 200 after the server is back (a bound on waiting, not a speed assertion). */
const RECOVERY_BOUND_MS = 10_000;
/** A request not answered in this long counts as failed (Keyhold's own database timeout is 5 s). */
const NO_ANSWER_MS = 30_000;

/** What a loop asks: client_credentials grants, the admin API, the sign-in page, discovery (no database). */
type Kind = 'token' | 'admin' | 'signin' | 'discovery';
/** Loops 0-5 ask for tokens only; loop 6 also reads the admin API, loop 7 the sign-in page and discovery. */
const PLANS: Kind[][] = [...Array.from({ length: 6 }, (): Kind[] => ['token']), ['token', 'admin'], ['token', 'signin', 'discovery']];

/**
 * before: answered before the stop began. stopping: answered after it began, sent before the server was
 * down (pg_ctl stop returned), the requests in flight at the stop among them. down: sent once it was
 * down, answered before the start began. restarting: answered after the start began, sent before the
 * end of the settle window. after: sent after the settle window.
 */
type Phase = 'before' | 'stopping' | 'down' | 'restarting' | 'after';

interface Answer {
  loop: number;
  kind: Kind;
  sentAt: number;
  doneAt: number;
  status?: number;
  headers?: IncomingHttpHeaders;
  body?: string;
  /** The error's code, when the request got no answer (refused, reset...). */
  error?: string;
}

interface Spec {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

/** One request over `agent`; never rejects: an answer, or the error it met. Notes the socket it went over. */
function send(agent: HttpAgent, spec: Spec, sockets: Set<Socket>): Promise<Omit<Answer, 'loop' | 'kind' | 'sentAt'>> {
  return new Promise((resolve) => {
    const failed = (err: NodeJS.ErrnoException) => resolve({ doneAt: Date.now(), error: err.code ?? err.message });
    const req = request(spec.url, { agent, method: spec.method, headers: spec.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ doneAt: Date.now(), status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', failed);
    });
    req.on('socket', (socket) => sockets.add(socket));
    // A bound on waiting, so that a request never answered fails here rather than hangs the test.
    req.setTimeout(NO_ANSWER_MS, () => req.destroy(Object.assign(new Error('no answer'), { code: 'NO_ANSWER' })));
    req.on('error', failed);
    req.end(spec.body);
  });
}

function json(body: string | undefined): Record<string, unknown> | undefined {
  try {
    return JSON.parse(body ?? '') as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

t.test('Postgres stopped and started under load: 200s, then only 503s while it is down, then only 200s; never a 500 or a failed connection', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => void process.off('unhandledRejection', onUnhandled));

  const server = await startPrivatePostgres(t);
  t.comment(`the private server: ${server.kind}, Postgres ${server.version}`);
  // The session that will hold the lock (below), connected before Keyhold's: a stopping Postgres signals
  // its newest sessions first, so Keyhold's waiting ones are ended before this one lets go of the lock
  // (connected last, it could end first and let the waiters finish their statements before their turn).
  const locker = new pg.Client({ connectionString: server.url });
  locker.on('error', () => undefined);
  await locker.connect();
  t.teardown(() => locker.end().catch(() => undefined));
  // The pool as Keyhold makes it (10 connections), idle connection failures ignored as it logs them.
  const pool = createPool({ connectionString: server.url, onError: () => undefined });
  t.teardown(() => pool.end());
  const kh = await startTestApp(t, { db: { url: server.url, pool } });

  // Stored before the outage: a client-credentials client, an admin client and its token, a user, and a
  // sign-in begun (its page shown) for a hybrid client.
  const { client: loadClient, secret: loadSecret } = await createClient(kh.clients, {
    type: 'client-credentials',
    name: 'Load',
    redirectUris: [],
    postLogoutRedirectUris: [],
  });
  const admin = await adminToken(kh);
  const { username, password } = await createUser(kh.users);
  const { client: app } = await createClient(kh.clients);
  const browser = new Agent();
  const pending = await authorize(browser, kh.issuer, codeRequest(app.id, APP_REDIRECT));
  t.equal(pending.status, 200, 'a sign-in page is open before the outage');
  const { action, csrf } = loginForm(pending.html!);

  const specs: Record<Kind, () => Spec> = {
    token: () => ({
      method: 'POST',
      url: new URL(`${kh.issuer}/token`),
      headers: { authorization: basicAuth(loadClient.id, loadSecret), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    }),
    admin: () => ({ method: 'GET', url: new URL(`${kh.origin}/api/v1/clients`), headers: { authorization: `Bearer ${admin.token}` } }),
    signin: () => ({
      method: 'GET',
      url: new URL(pending.target),
      headers: { accept: 'text/html', cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    }),
    discovery: () => ({ method: 'GET', url: new URL(`${kh.issuer}/.well-known/openid-configuration`), headers: {} }),
  };

  // The moments of the outage, as they happen.
  const at = { stop: Infinity, stopped: Infinity, start: Infinity, started: Infinity, firstOk: Infinity };
  const answers: Answer[] = [];
  const current: (Pick<Answer, 'kind' | 'sentAt'> | undefined)[] = [];
  const sockets = PLANS.map(() => new Set<Socket>());
  let lastAnswerAt = 0;
  let running = true;
  const loops = PLANS.map(async (plan, loop) => {
    // A keep-alive connection of each loop's own, as a client's connection pool keeps them.
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; running; i++) {
      const kind = plan[i % plan.length]!;
      const sentAt = Date.now();
      current[loop] = { kind, sentAt };
      const answer: Answer = { loop, kind, sentAt, ...(await send(agent, specs[kind](), sockets[loop]!)) };
      current[loop] = undefined;
      lastAnswerAt = answer.doneAt;
      answers.push(answer);
      if (answer.status === 200 && kind !== 'discovery' && answer.doneAt >= at.start && at.firstOk === Infinity) at.firstOk = answer.doneAt;
    }
    agent.destroy();
  });

  // Holds an exclusive lock on the table every request but discovery reads or writes (tokens, the
  // admin token, the interaction), so that requests are certainly waiting inside Postgres when the stop
  // comes; the stop ends that session too.
  let waitingInPostgres: number;
  try {
    await sleep(LOAD_BEFORE_MS);
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE oidc_payloads IN ACCESS EXCLUSIVE MODE');
    // Every loop is waiting on a request that needs the database (loop 7 past its discovery request),
    // and nothing was answered for a while: whatever was under way before the lock has been answered.
    const deadline = Date.now() + 10_000;
    while (!(current.every((c) => c && c.kind !== 'discovery') && Date.now() - lastAnswerAt >= 300)) {
      if (Date.now() > deadline) throw new Error('the requests did not wait on the locked table');
      await sleep(20);
    }
    const probe = new pg.Client({ connectionString: server.url });
    await probe.connect();
    try {
      const { rows } = await probe.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'keyhold' AND wait_event_type = 'Lock'",
      );
      waitingInPostgres = rows[0]!.n;
    } finally {
      await probe.end();
    }

    at.stop = Date.now();
    await server.stop();
    at.stopped = Date.now();
    await sleep(DOWN_MS);
    at.start = Date.now();
    await server.start();
    at.started = Date.now();
    while (at.firstOk === Infinity && Date.now() - at.started <= RECOVERY_BOUND_MS) await sleep(20);
    if (at.firstOk !== Infinity) await sleep(Math.max(0, at.firstOk + SETTLE_MS + LOAD_AFTER_MS - Date.now()));
  } finally {
    // The lock released first (when the test failed before the stop), so that the loops can end.
    await locker.end().catch(() => undefined);
    running = false;
    await Promise.all(loops);
  }

  t.ok(waitingInPostgres >= 1, `requests were waiting inside Postgres at the stop (${waitingInPostgres} statements)`);
  t.ok(at.firstOk - at.started <= RECOVERY_BOUND_MS, `the first 200 after the restart came within ${RECOVERY_BOUND_MS / 1000} s of the server being back`);

  const phaseOf = (a: Answer): Phase => {
    if (a.doneAt < at.stop) return 'before';
    if (a.sentAt < at.stopped) return 'stopping';
    if (a.doneAt < at.start) return 'down';
    if (a.sentAt < at.firstOk + SETTLE_MS) return 'restarting';
    return 'after';
  };
  const ok = (a: Answer): boolean => {
    if (a.status !== 200) return false;
    switch (a.kind) {
      case 'token':
        return typeof json(a.body)?.access_token === 'string';
      case 'admin':
        return Array.isArray(json(a.body)?.items);
      case 'signin':
        return /<form method="post" action="[^"]+\/login"/.test(a.body ?? '');
      case 'discovery':
        return json(a.body)?.issuer === kh.issuer;
    }
  };
  /** A 503 as the endpoint's kind answers it, with Retry-After. */
  const unavailable = (a: Answer): boolean => {
    if (a.status !== 503 || a.headers?.['retry-after'] !== '5') return false;
    const type = a.headers['content-type'] ?? '';
    switch (a.kind) {
      case 'token':
        return type.startsWith('application/json') && json(a.body)?.error === 'temporarily_unavailable';
      case 'admin':
        return (
          type.startsWith('application/problem+json') &&
          json(a.body)?.type === 'https://keyhold.dev/problems/database-unavailable' &&
          json(a.body)?.status === 503
        );
      case 'signin':
        return type.startsWith('text/html') && (a.body ?? '').includes('Keyhold is unavailable for a moment');
      case 'discovery':
        return false;
    }
  };
  const shown = (a: Answer) => ({
    loop: a.loop,
    kind: a.kind,
    phase: phaseOf(a),
    sentAt: a.sentAt - at.stop,
    doneAt: a.doneAt - at.stop,
    status: a.status,
    error: a.error,
    body: a.body?.slice(0, 300),
  });
  const where = (phase: Phase, test: (a: Answer) => boolean) => answers.filter((a) => phaseOf(a) === phase && test(a)).map(shown);

  const counts = (phase: Phase) => {
    const byStatus = new Map<string, number>();
    for (const a of answers.filter((x) => phaseOf(x) === phase && x.kind !== 'discovery')) {
      const key = a.status === undefined ? (a.error ?? 'error') : String(a.status);
      byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
    }
    return [...byStatus].map(([status, n]) => `${n} × ${status}`).join(', ') || 'none';
  };
  const discovery = (phase: Phase) => answers.filter((a) => phaseOf(a) === phase && a.kind === 'discovery').length;
  t.comment(
    `before: ${counts('before')}; stopping: ${counts('stopping')}; down: ${counts('down')}; restarting (until ${SETTLE_MS / 1000} s after the first 200): ${counts('restarting')}; after: ${counts('after')}` +
      ` (discovery, no database: ${(['before', 'stopping', 'down', 'restarting', 'after'] as const).map(discovery).join('/')})`,
  );
  const lateUnavailable = answers.filter((a) => a.sentAt >= at.firstOk && a.status === 503).length;
  t.comment(
    `the stop took ${at.stopped - at.stop} ms; down ${at.start - at.stop} ms; the start took ${at.started - at.start} ms;` +
      ` the first 200 came ${at.firstOk - at.start} ms after the start began; 503s to requests sent after it: ${lateUnavailable}`,
  );

  // Never a 500, never a failed connection, in any phase; each loop kept its one connection throughout.
  t.same(answers.filter((a) => a.error !== undefined).map(shown), [], 'no request failed to get an answer (refused, reset)');
  t.same(answers.filter((a) => a.status !== undefined && a.status >= 500 && a.status !== 503).map(shown), [], 'no 500 (or other 5xx but 503)');
  t.same(sockets.map((s) => s.size), PLANS.map(() => 1), 'each loop kept its keep-alive connection from first request to last');

  // Before: only 200s.
  t.same(where('before', (a) => !ok(a)), [], 'before the stop: every answer 200');
  // Stopping: the requests in flight at the stop (waiting on the lock inside Postgres) and those sent while
  // it stopped. A 503 as their kind answers it, or a 200 should Postgres have finished one before ending
  // its session; never a 500.
  t.same(where('stopping', (a) => !ok(a) && !unavailable(a)), [], 'while stopping: 503 (with Retry-After, the body of its kind) or 200 only');
  const inFlight = answers.filter((a) => a.sentAt < at.stop && a.doneAt >= at.stop && a.kind !== 'discovery');
  t.ok(inFlight.length >= LOOPS, `every loop had a request in flight at the stop (${inFlight.length} requests)`);
  t.ok(inFlight.some(unavailable), `requests in flight at the stop were answered 503 (${inFlight.filter(unavailable).length} of ${inFlight.length})`);
  // Down (sent once the server was down, answered before the start): only 503s as each kind answers them; discovery 200.
  t.same(where('down', (a) => (a.kind === 'discovery' ? !ok(a) : !unavailable(a))), [], 'while down: every answer that needs the database 503 (with Retry-After, the body of its kind), discovery 200');
  // Restarting: 503 or 200, nothing else.
  t.same(where('restarting', (a) => !ok(a) && !unavailable(a)), [], 'restarting: 200 or 503 only');
  // After: only 200s.
  t.same(where('after', (a) => !ok(a)), [], `from ${SETTLE_MS / 1000} s after the first 200 on: every answer 200`);

  // Each phase saw each kind, so none of the above holds for want of answers.
  for (const phase of ['before', 'down', 'after'] as const) {
    for (const kind of ['token', 'admin', 'signin', 'discovery'] as const) {
      t.ok(answers.some((a) => phaseOf(a) === phase && a.kind === kind), `${phase}: ${kind} answered`);
    }
  }

  // Nothing stored before is lost: the clients, their secret and the admin token worked after (above);
  // the sign-in begun before the outage completes, with the user stored before it.
  const signedIn = await browser.follow(new URL(action, kh.origin).href, kh.origin, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, csrf }).toString(),
  });
  t.match(signedIn.url, /^https:\/\/app\.example\.com\/callback\?code=/, 'the sign-in begun before the outage completes');

  t.notMatch(kh.logs.text, /"level":50/, 'no error-level log line: an outage is a warning');
  t.same(unhandled, [], 'no unhandled rejection');
});
