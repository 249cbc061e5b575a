import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { adminToken } from '../helpers/admin.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { post } from '../helpers/flow.ts';
import { oneLine, recordQueries, type RecordedQuery } from '../helpers/queries.ts';

/**
 * Each instance keeps the clients it serves until a change is announced (NOTIFY on
 * keyhold_client_changes). Two instances on one database: a change made through A is in force at B on
 * B's very next request, also while B's LISTEN connection is down (B then reads every client through),
 * and once it is back B caches again.
 */

const LISTENERS = "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'keyhold-listener' AND datname = current_database()";
/** The cache's read of a client with its secrets (src/repos/clients.ts findWithSecretChecks). */
const READS_CLIENT = /AS secrets\s+FROM clients WHERE id = \$1/;
/** Listener connections that have run their LISTEN and wait for notifications. */
const LISTENING = `${LISTENERS} AND state = 'idle' AND query LIKE 'LISTEN %'`;

async function count(kh: TestApp, sql: string): Promise<number> {
  const { rows } = await kh.db.pool.query<{ n: number }>(sql);
  return rows[0]!.n;
}

/** The steady state of a client_credentials grant: the access token's INSERT, nothing else. */
function onlyTheInsert(t: Test, seen: RecordedQuery[], message: string) {
  t.equal(seen.length, 1, message);
  t.match(seen[0]?.sql, /^\s*INSERT INTO oidc_payloads\b/, 'the one query saves the token');
  t.same([seen[0]?.values[0]].flat(), ['ClientCredentials'], 'a client-credentials token');
  if (seen.length !== 1) t.comment(`queries: ${seen.map((q) => oneLine(q.sql)).join(' | ')}`);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(25);
  }
}

t.test('client changes made through one instance are in force at another on its next request', async (t) => {
  const a = await startTestApp(t);
  const b = await startTestApp(t, { db: a.db });
  const queries = recordQueries(t);
  await waitFor('both listeners', async () => (await count(a, LISTENING)) === 2);
  const { api: apiA } = await adminToken(a);

  const created = (await apiA('POST', '/clients', { type: 'client-credentials', name: 'Cached service' })).body as { client: { id: string }; secret: { id: string; value: string } };
  const clientId = created.client.id;
  const tokenAtB = (secret = created.secret.value) => post(`${b.issuer}/token`, { grant_type: 'client_credentials' }, { clientId, secret });
  const setEnabled = async (t: Test, enabled: boolean) => t.equal((await apiA('PATCH', `/clients/${clientId}`, { enabled })).status, 200, `${enabled ? 'enabled' : 'disabled'} through A`);
  /** The queries of one client_credentials grant at B. */
  const grantQueries = async () => {
    let status = 0;
    const seen = await queries.during(async () => {
      status = (await tokenAtB()).status;
    });
    return { status, seen };
  };

  t.equal((await tokenAtB()).status, 200, 'B issues a token (and keeps the client)');
  t.equal((await tokenAtB()).status, 200, 'and again');
  const cached = await grantQueries();
  t.equal(cached.status, 200);
  onlyTheInsert(t, cached.seen, 'B serves the client from its cache: the token INSERT is its one query');

  t.test('disabled through A: refused at B on the very next request; re-enabled: accepted', async (t) => {
    await setEnabled(t, false);
    const refused = await tokenAtB();
    t.equal(refused.status, 401, 'refused at B');
    t.equal(refused.body.error, 'invalid_client');
    await setEnabled(t, true);
    t.equal((await tokenAtB()).status, 200, 'accepted at B again');
  });

  t.test('while the LISTEN connections are down, B reads every client through', async (t) => {
    const { rows } = await a.db.pool.query<{ terminated: boolean }>(
      "SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = 'keyhold-listener' AND datname = current_database()",
    );
    t.equal(rows.length, 2, "both instances' listener connections are terminated");
    await waitFor('the listeners to go', async () => (await count(a, LISTENERS)) === 0);

    // Requests while the listener is down, before the change: each one reads the client (an instance
    // that went on caching would serve the second from its copy, and act on it after the change).
    for (const attempt of ['first', 'second']) {
      const down = await grantQueries();
      t.equal(down.status, 200, `B accepts while its listener is down (${attempt} request)`);
      t.ok(down.seen.some((q) => READS_CLIENT.test(q.sql)), `B read the client from the database (${attempt} request)`);
    }

    await setEnabled(t, false);
    const refused = await tokenAtB();
    t.equal(refused.status, 401, 'disabled through A while nothing is heard: refused at B on its next request');
    t.equal(refused.body.error, 'invalid_client');
    t.equal(await count(a, LISTENERS), 0, 'the listeners were still down throughout (so the change was read, not heard)');

    await waitFor('the listeners to come back', async () => (await count(a, LISTENING)) === 2);
    await setEnabled(t, true);
    t.equal((await tokenAtB()).status, 200, 'enabled through A after the listeners came back: accepted at B');
    // The change is heard at B whenever its NOTIFY arrives (later, on a loaded machine, than these
    // requests): B drops its copy then, and the request after reads the client once more. Caching again
    // means a request soon needs nothing but the INSERT.
    let steady = await grantQueries();
    for (let tries = 1; tries < 5 && steady.seen.length !== 1; tries++) steady = await grantQueries();
    t.equal(steady.status, 200);
    onlyTheInsert(t, steady.seen, 'B caches again: the token INSERT is its one query');
  });

  t.test('a secret deleted through A fails at B on the next request', async (t) => {
    const second = (await apiA('POST', `/clients/${clientId}/secrets`, { description: 'rotation' })).body as { id: string; value: string };
    t.equal((await tokenAtB(second.value)).status, 200, 'the new secret works at B');
    t.equal((await tokenAtB()).status, 200, 'the first one too');
    t.equal((await apiA('DELETE', `/clients/${clientId}/secrets/${created.secret.id}`)).status, 204);
    const refused = await tokenAtB();
    t.equal(refused.status, 401, 'the deleted secret is refused at B');
    t.equal(refused.body.error, 'invalid_client');
    t.equal((await tokenAtB(second.value)).status, 200, 'the other secret still works at B');
  });
});
