import { createServer as createHttpServer } from 'node:http';
import { createServer, connect, type Server, type Socket } from 'node:net';
import pg from 'pg';
import t from 'tap';
import { createPool } from '../../src/db/pool.ts';
import { isDatabaseUnavailable } from '../../src/db/unavailable.ts';
import { freePort } from '../helpers/app.ts';
import { createTestDatabase, serverUrl } from '../helpers/db.ts';

/** Every error here is produced for real, by a real server, a real network cut or a port nothing listens on. */

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** A TCP relay in front of the test server, whose connections the test cuts as a network would. */
async function relayTo(url: string) {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    const up = connect(Number(target.port), target.hostname);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    down.pipe(up).pipe(down);
  });
  const port = await listening(server);
  const relayed = new URL(url);
  relayed.host = `127.0.0.1:${port}`;
  return {
    url: relayed.toString(),
    /** Ends every relayed connection (FIN), or resets it (RST). */
    cut(how: 'end' | 'reset') {
      for (const s of sockets) (how === 'reset' ? s.resetAndDestroy() : s.destroy());
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

t.test('an outage is told apart from a failing query', async (t) => {
  const db = await createTestDatabase(t);

  // Failures of the statement itself: bugs or bad input, never an outage.
  const syntax = await rejection(db.pool.query('SELEC 1'));
  t.equal((syntax as { code?: string }).code, '42601');
  t.notOk(isDatabaseUnavailable(syntax), 'a syntax error');
  const duplicate = await rejection(db.pool.query("INSERT INTO schema_migrations (id, name) SELECT id, name FROM schema_migrations LIMIT 1"));
  t.equal((duplicate as { code?: string }).code, '23505');
  t.notOk(isDatabaseUnavailable(duplicate), 'a unique violation');
  const badUuid = await rejection(db.pool.query("SELECT 'x'::uuid"));
  t.notOk(isDatabaseUnavailable(badUuid), 'an invalid value');
  for (const other of [new Error('boom'), new TypeError('x is undefined'), undefined, null, 'a string', 42]) {
    t.notOk(isDatabaseUnavailable(other), `not an outage: ${String(other)}`);
  }

  // Nothing listens on the port: refused.
  const closedPort = await freePort();
  const refusedPool = createPool({ connectionString: `postgres://postgres@127.0.0.1:${closedPort}/keyhold` });
  t.teardown(() => refusedPool.end());
  const refused = await rejection(refusedPool.query('SELECT 1'));
  t.match(String((refused as Error).message), /ECONNREFUSED/);
  t.ok(isDatabaseUnavailable(refused), 'connection refused');
  const bare = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${closedPort}/keyhold` });
  t.ok(isDatabaseUnavailable(await rejection(bare.connect())), 'connection refused, from a client outside the pool');

  // A server that accepts the connection and never answers: the pool gives up after its connect timeout.
  const silentSockets = new Set<Socket>();
  const silent = createServer((s) => {
    silentSockets.add(s);
    s.on('error', () => undefined);
  });
  const silentPort = await listening(silent);
  t.teardown(() => {
    for (const s of silentSockets) s.destroy();
    silent.close();
  });
  const silentPool = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${silentPort}/keyhold`, connectionTimeoutMillis: 200 });
  t.teardown(() => silentPool.end());
  const timedOut = await rejection(silentPool.query('SELECT 1'));
  t.match(String((timedOut as Error).message), /timeout/);
  t.ok(isDatabaseUnavailable(timedOut), 'connect timeout');

  // Every connection of the pool busy, none freed in time.
  const onePool = new pg.Pool({ connectionString: db.url, max: 1, connectionTimeoutMillis: 200 });
  t.teardown(() => onePool.end());
  const held = await onePool.connect();
  const exhausted = await rejection(onePool.query('SELECT 1'));
  held.release();
  t.equal((exhausted as Error).message, 'timeout exceeded when trying to connect');
  t.ok(isDatabaseUnavailable(exhausted), 'no connection to be had in time');

  // The server ends the session under a running statement (as it does to every session when it stops).
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  t.teardown(() => admin.end());
  const victim = await db.pool.connect();
  const { rows } = await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  victim.on('error', () => undefined);
  const sleeping = rejection(victim.query('SELECT pg_sleep(30)'));
  while ((await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [rows[0]!.pid])).rowCount === 0) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
  const terminated = await sleeping;
  t.equal((terminated as { code?: string }).code, '57P01', 'admin_shutdown');
  t.ok(isDatabaseUnavailable(terminated), 'a session terminated mid-query');
  const afterwards = await rejection(victim.query('SELECT 1'));
  t.ok(isDatabaseUnavailable(afterwards), `a statement on the dead connection: ${(afterwards as Error).message}`);
  victim.release(true);

  // The database refuses new connections (whatever the SQLSTATE, failing to connect is an outage).
  const name = new URL(db.url).pathname.slice(1);
  await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
  const fresh = createPool({ connectionString: db.url });
  t.teardown(() => fresh.end());
  const notAccepting = await rejection(fresh.query('SELECT 1'));
  await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
  t.equal((notAccepting as { code?: string }).code, '55000');
  t.ok(isDatabaseUnavailable(notAccepting), 'the database not accepting connections');

  // The network cuts a connection mid-query: the far end closes, or resets.
  for (const how of ['end', 'reset'] as const) {
    const relay = await relayTo(db.url);
    const client = new pg.Client({ connectionString: relay.url });
    client.on('error', () => undefined);
    await client.connect();
    const cutShort = rejection(client.query('SELECT pg_sleep(30)'));
    await new Promise((r) => setTimeout(r, 50));
    relay.cut(how);
    const err = await cutShort;
    t.ok(isDatabaseUnavailable(err), `a connection cut (${how}): ${(err as Error).message}`);
    await client.end().catch(() => undefined);
    await relay.close();
  }

  // A client of Keyhold hanging up mid-request raises ECONNRESET too: not an outage of the database.
  const aborted = await new Promise<unknown>((resolve) => {
    const http = createHttpServer((req) => {
      req.on('error', resolve);
      req.resume();
    });
    http.listen(0, '127.0.0.1', () => {
      const socket = connect((http.address() as { port: number }).port, '127.0.0.1');
      socket.write('POST / HTTP/1.1\r\nHost: keyhold\r\nContent-Length: 100\r\n\r\nabc', () => setTimeout(() => socket.destroy(), 50));
    });
    t.teardown(() => http.close());
  });
  t.equal((aborted as { code?: string }).code, 'ECONNRESET');
  t.notOk(isDatabaseUnavailable(aborted), 'a client of Keyhold hanging up');

  // Wrapped errors count by what they wrap.
  t.ok(isDatabaseUnavailable(new Error('migration failed', { cause: refused })), 'an outage as a cause');
  t.ok(isDatabaseUnavailable(new AggregateError([new Error('x'), terminated])), 'an outage among several errors');
  t.notOk(isDatabaseUnavailable(new Error('wrapped', { cause: syntax })), 'a query error as a cause');
});
