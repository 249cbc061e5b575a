import t from 'tap';
import { createLogger } from '../../src/logger.ts';
import { LogCapture, startTestApp } from '../helpers/app.ts';

t.test('health, readiness through a database outage, metrics, request ids', async (t) => {
  const kh = await startTestApp(t);

  const health = await fetch(`${kh.origin}/healthz`);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok' });
  t.match(health.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'every answer carries a request id');

  const given = await fetch(`${kh.origin}/healthz`, { headers: { 'x-request-id': 'trace-123' } });
  t.equal(given.headers.get('x-request-id'), 'trace-123', 'a caller-supplied request id is kept');
  t.match(kh.logs.text, /"reqId":"trace-123"/, 'and logged');

  t.equal((await fetch(`${kh.origin}/readyz`)).status, 200);

  // A real outage: the database refuses new connections and drops the existing ones.
  const name = new URL(kh.db.url).pathname.slice(1);
  const { serverUrl } = await import('../helpers/db.ts');
  const pg = (await import('pg')).default;
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  t.teardown(() => admin.end());
  await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
  const down = await fetch(`${kh.origin}/readyz`);
  t.equal(down.status, 503, 'not ready while the database does not answer');
  t.match(await down.json(), { status: 'unavailable' });
  t.equal((await fetch(`${kh.origin}/healthz`)).status, 200, 'the process is still alive');

  await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
  t.equal((await fetch(`${kh.origin}/readyz`)).status, 200, 'ready again once the database is back');
  const discovery = await fetch(`${kh.issuer}/.well-known/openid-configuration`);
  t.equal(discovery.status, 200, 'and serving');

  const metrics = await fetch(`${kh.origin}/metrics`);
  t.equal(metrics.status, 200);
  t.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await metrics.text();
  t.match(text, /# TYPE keyhold_http_request_duration_seconds histogram/);
  t.match(text, /keyhold_http_request_duration_seconds_count\{method="GET",route="\/readyz",status="503"\} 1/);
  t.match(text, /keyhold_db_pool_connections\{state="idle"\} \d+/);
});

t.test('the logger censors secrets, passwords, tokens, cookies and Authorization headers', async (t) => {
  const capture = new LogCapture();
  const logger = createLogger('info', capture);
  logger.info(
    {
      password: 'hunter2-password',
      secret: { value: 'secret-value-1' },
      client_secret: 'secret-value-2',
      access_token: 'token-value-1',
      req: { headers: { authorization: 'Bearer token-value-2', cookie: '_session=cookie-value' } },
      body: { password: 'hunter3-password', refresh_token: 'token-value-3' },
    },
    'something happened',
  );
  await new Promise((r) => setImmediate(r));
  const text = capture.text;
  t.match(text, /something happened/);
  for (const leaked of ['hunter2', 'hunter3', 'secret-value-1', 'secret-value-2', 'token-value-1', 'token-value-2', 'token-value-3', 'cookie-value']) {
    t.notMatch(text, leaked, `${leaked} is censored`);
  }
});
