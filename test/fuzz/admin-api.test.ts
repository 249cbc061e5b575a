import fc from 'fast-check';
import t from 'tap';
import { adminToken, answerOf, type ApiAnswer } from '../helpers/admin.ts';
import { startTestApp } from '../helpers/app.ts';
import { cursorLike, expect, holds, nasty, percentEncode, sane, snapshot, unchanged } from '../helpers/fuzz.ts';

/**
 * Property-based: whatever body, query or path the admin API is sent, it never answers 5xx, errors are
 * problem+json without internals, and a refused request changes nothing.
 */

type Body = { kind: 'json'; value: unknown } | { kind: 'raw'; text: string; contentType: string | undefined } | { kind: 'none' };
interface Call {
  method: string;
  path: string;
  body: Body;
}

const anyJson = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: nasty },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -0, [], {}, [[[]]], { a: { b: { c: {} } } }) },
  // Deeper than any validator would walk by hand.
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 2000 }).map((depth) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown) },
);

/** A field's plausible values, mixed with anything at all. */
const either = <T>(plausible: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: plausible as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: anyJson });

const url = fc.oneof(
  fc.constantFrom('https://app.example.com/cb', 'http://127.0.0.1/cb', 'com.example.app:/cb', 'https://app.example.com/', 'javascript:alert(1)', 'https://*.example.com/'),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  nasty,
);
const origin = fc.oneof(fc.constantFrom('https://app.example.com', 'http://localhost:3000', 'https://app.example.com/'), fc.webUrl(), nasty);
const isoDate = fc.date({ noInvalidDate: true }).map((d) => d.toISOString());

/**
 * Objects holding a few of `fields` (each with its own values), so that a body is mostly what the API
 * expects with one or two fields off, or, now and then, every field at once.
 */
function someOf(fields: Record<string, fc.Arbitrary<unknown>>, most = 3): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(fields);
  return fc.oneof(
    { weight: 4, arbitrary: fc.subarray(keys, { maxLength: Math.min(most, keys.length) }).chain((chosen) => fc.record(Object.fromEntries(chosen.map((k) => [k, fields[k]!])))) },
    { weight: 1, arbitrary: fc.record(fields, { requiredKeys: [] }) },
  );
}

const secretFields = {
  description: either(fc.oneof(fc.string({ maxLength: 120 }), nasty)),
  expiresAt: either(fc.oneof(isoDate, isoDate.map((d) => d.slice(0, 10)), fc.constantFrom('2999-12-31', '2030-02-30', '+275760-09-13T00:00:00.000Z', '9999-12-31T23:59:59Z', '2999-01-01T00:00:00+14:00'), nasty)),
  neverExpires: either(fc.boolean()),
  value: anyJson,
};
const secretInput = someOf(secretFields);
const clientFields = {
  type: either(fc.constantFrom('hybrid', 'authorization-code', 'client-credentials', 'implicit', 'HYBRID')),
  name: either(fc.oneof(fc.string({ minLength: 1, maxLength: 120 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), nasty)),
  enabled: either(fc.boolean()),
  redirectUris: either(fc.array(url, { maxLength: 12 })),
  postLogoutRedirectUris: either(fc.array(url, { maxLength: 12 })),
  allowRefreshToken: either(fc.boolean()),
  accessTokenLifetime: either(fc.oneof(fc.integer({ min: -10, max: 5000 }), fc.double(), fc.constantFrom(60, 3600, 2 ** 31, 2 ** 53))),
  allowedCorsOrigins: either(fc.array(origin, { maxLength: 12 })),
  roles: either(fc.array(fc.oneof(fc.constant('admin'), nasty), { maxLength: 3 })),
  secret: either(secretInput),
  id: either(fc.uuid()),
  createdAt: either(isoDate),
  secrets: anyJson,
  constructor: anyJson,
};
const validClient = fc.constantFrom<Record<string, unknown>>(
  { type: 'hybrid', name: 'Fuzzed hybrid', redirectUris: ['https://app.example.com/cb'] },
  { type: 'authorization-code', name: 'Fuzzed SPA', redirectUris: ['http://127.0.0.1/cb'], allowedCorsOrigins: ['https://spa.example.com'] },
  { type: 'client-credentials', name: 'Fuzzed machine', roles: [] },
);
/** A valid body with a few fields replaced or added, so that both refusals and successes are reached. */
const clientBody = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(validClient, someOf(clientFields)).map(([base, fields]) => ({ ...base, ...fields })) },
  { weight: 1, arbitrary: someOf(clientFields, 14) },
  { weight: 1, arbitrary: anyJson },
);
const { type: _type, ...patchFields } = clientFields;
const clientPatch = fc.oneof(
  { weight: 4, arbitrary: someOf(patchFields) },
  { weight: 1, arbitrary: someOf(clientFields, 14) },
  { weight: 1, arbitrary: anyJson },
);

const userFields = {
  username: either(fc.oneof(fc.stringMatching(/^[A-Za-z0-9._@-]{1,70}$/), nasty)),
  email: either(fc.oneof(fc.emailAddress(), fc.constant(null), nasty)),
  name: either(fc.oneof(fc.string({ maxLength: 120 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }), fc.constant(null), nasty)),
  roles: either(fc.array(fc.oneof(fc.constant('admin'), nasty), { maxLength: 3 })),
  disabled: either(fc.boolean()),
  // Few valid passwords: each costs an argon2 hash.
  password: fc.oneof({ weight: 1, arbitrary: fc.string({ minLength: 8, maxLength: 30 }) }, { weight: 4, arbitrary: anyJson }),
  id: either(fc.uuid()),
  createdAt: either(isoDate),
  passwordHash: anyJson,
};
const { username: _username, ...userPatchFields } = userFields;
const userBody = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.stringMatching(/^[a-z0-9]{6,12}$/), someOf(userFields)).map(([username, fields]) => ({ username: `fuzz-${username}`, ...fields })) },
  { weight: 1, arbitrary: someOf(userFields, 10) },
  { weight: 1, arbitrary: anyJson },
);
const userPatch = fc.oneof({ weight: 4, arbitrary: someOf(userPatchFields) }, { weight: 1, arbitrary: someOf(userFields, 10) }, { weight: 1, arbitrary: anyJson });

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/JSON',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/merge-patch+json',
  ';',
  undefined,
);
const rawText = fc.oneof(
  nasty,
  fc.jsonValue().map((v) => JSON.stringify(v).slice(0, -1)),
  fc.constantFrom('{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '{"type":"hybrid","type":"client-credentials"}', '\ufeff{}', '{"a":1}{"b":2}', '[1,]'),
);

function body(json: fc.Arbitrary<unknown>): fc.Arbitrary<Body> {
  return fc.oneof(
    { weight: 5, arbitrary: json.map((value): Body => ({ kind: 'json', value })) },
    { weight: 1, arbitrary: fc.record({ text: rawText, contentType }).map(({ text, contentType }): Body => ({ kind: 'raw', text, contentType })) },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
  );
}

const pathId = fc.oneof(
  fc.uuid(),
  fc.constant('-'.repeat(36)),
  fc.stringMatching(/^[0-9a-f-]{36}$/),
  nasty.filter((s) => s.length > 0).map(percentEncode),
  fc.constantFrom('%', '%zz', '%00', '..', '.', '%2e%2e', '%2F', 'a;b', 'a?b=c', '%E0%A4%A', '%C0%AF'),
);

/** `key=value` pairs for a list's query string: the known keys and others, encoded or left raw. */
const query = (cursors: string[]) =>
  fc
    .array(
      fc.oneof(
        { weight: 2, arbitrary: fc.tuple(fc.constant('cursor'), fc.oneof(cursorLike, fc.constantFrom(...cursors)), fc.constant(true)) },
        {
          weight: 3,
          arbitrary: fc.tuple(
            fc.oneof(fc.constantFrom('type', 'limit', 'cursor', 'type[]', 'limit[a]', '__proto__', 'constructor'), nasty),
            fc.oneof(cursorLike, fc.constantFrom(...cursors), fc.constantFrom('hybrid', 'client-credentials', 'authorization-code', '1', '100', '101', '0', '-1', '1e2', '007', '10.0', ' 5', '')),
            fc.boolean(),
          ),
        },
      ),
      { maxLength: 4 },
    )
    .map((pairs) => pairs.map(([k, v, encode]) => (encode ? `${percentEncode(k)}=${percentEncode(v)}` : `${k}=${v}`.replace(/[#\s]/g, ''))).join('&'));

async function send(origin: string, token: string, call: Call): Promise<ApiAnswer & { request: string; path: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let payload: string | undefined;
  if (call.body.kind === 'json') {
    payload = JSON.stringify(call.body.value) ?? 'null';
    headers['content-type'] = 'application/json';
  } else if (call.body.kind === 'raw') {
    payload = call.body.text;
    if (call.body.contentType !== undefined) headers['content-type'] = call.body.contentType;
  }
  const target = new URL(`${origin}/api/v1${call.path}`);
  const answer = await answerOf(await fetch(target, { method: call.method, headers, ...(payload !== undefined ? { body: payload } : {}) }));
  return { ...answer, request: `${call.method} ${call.path} ${payload ?? ''}`, path: target.pathname };
}

/** The checks every answer passes; a refused request must leave the database as it was. */
function checkAnswer(method: string, answer: ApiAnswer & { request: string; path: string }) {
  sane(answer.status, answer.text, answer.request);
  // Node's HTTP parser refuses a request line and headers over 16 KiB (431) before any route is known;
  // a path with dot segments may resolve outside the admin API.
  if (answer.status === 431 || !answer.path.startsWith('/api/v1/')) return;
  if (answer.status >= 400 && method !== 'HEAD') {
    expect(/^application\/problem\+json/.test(answer.headers.get('content-type') ?? ''), 'an error that is not problem+json', answer.text);
    const problem = answer.body as { status?: unknown; title?: unknown; detail?: unknown; type?: unknown } | undefined;
    expect(
      problem?.status === answer.status && typeof problem.title === 'string' && typeof problem.detail === 'string' && typeof problem.type === 'string',
      'a problem without its members',
      answer.text,
    );
  }
}

t.test('the admin API under arbitrary input', async (t) => {
  const kh = await startTestApp(t);
  const { api, token } = await adminToken(kh);
  // Rows for the paths to name (never the automation client itself: a PATCH could disable it).
  const seeds = {
    hybrid: (await api('POST', '/clients', { type: 'hybrid', name: 'Seed hybrid', redirectUris: ['https://app.example.com/cb'] })).body.client,
    spa: (await api('POST', '/clients', { type: 'authorization-code', name: 'Seed SPA', redirectUris: ['https://spa.example.com/cb'] })).body.client,
    machine: (await api('POST', '/clients', { type: 'client-credentials', name: 'Seed machine' })).body.client,
    user: (await api('POST', '/users', { username: 'seed-user', name: 'Seed' })).body,
    admin: (await api('POST', '/users', { username: 'seed-admin', roles: ['admin'] })).body,
  };
  const clientIds = fc.oneof({ weight: 2, arbitrary: fc.constantFrom<string>(seeds.hybrid.id, seeds.spa.id, seeds.machine.id) }, { weight: 1, arbitrary: pathId });
  const userIds = fc.oneof({ weight: 2, arbitrary: fc.constantFrom<string>(seeds.user.id, seeds.admin.id) }, { weight: 1, arbitrary: pathId });
  const secretIds = fc.oneof(fc.constant<string>(seeds.hybrid.secrets[0].id), pathId);
  const cursors = [(await api('GET', '/clients?limit=1')).body.nextCursor, (await api('GET', '/users?limit=1')).body.nextCursor] as string[];
  // Give the token endpoint's off-path write (the secret's lastUsedAt) time to land before any snapshot.
  await new Promise((resolve) => setTimeout(resolve, 200));

  // The inputs must reach both successes and refusals, not only one of them.
  const seen = new Map<number, number>();
  const spread = () => {
    const shown = [...seen].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(' ');
    const statuses = [...seen.keys()];
    t.ok(statuses.some((s) => s < 300) && statuses.some((s) => s >= 400), `successes and refusals both reached: ${shown}`);
    seen.clear();
  };
  const run = async (call: Call) => {
    const before = await snapshot(kh.db.pool);
    const answer = await send(kh.origin, token, call);
    seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
    checkAnswer(call.method, answer);
    if (answer.status >= 400) unchanged(before, await snapshot(kh.db.pool), `${answer.status} to ${call.method} ${call.path}`);
    return answer;
  };

  await holds(t, 'POST /clients', 250, body(clientBody), async (b) => {
    const answer = await run({ method: 'POST', path: '/clients', body: b });
    if (answer.status === 201) {
      const sent = (b as { value: Record<string, unknown> }).value;
      expect(answer.body.client.name === sent.name, 'the name stored is not the name sent', { sent: sent.name, stored: answer.body.client.name });
    }
  });
  spread();

  await holds(t, 'PATCH /clients/{id}', 250, fc.tuple(clientIds, body(clientPatch)), async ([id, b]) => {
    const answer = await run({ method: 'PATCH', path: `/clients/${id}`, body: b });
    if (answer.status === 200 && b.kind === 'json' && typeof (b.value as { name?: unknown }).name === 'string') {
      expect(answer.body.name === (b.value as { name: string }).name, 'the name stored is not the name sent', { sent: (b.value as { name: string }).name, stored: answer.body.name });
    }
  });
  spread();

  await holds(t, 'POST /clients/{id}/secrets', 150, fc.tuple(clientIds, body(fc.oneof({ weight: 4, arbitrary: secretInput }, { weight: 1, arbitrary: anyJson }))), async ([id, b]) => {
    const answer = await run({ method: 'POST', path: `/clients/${id}/secrets`, body: b });
    // A client holds a few secrets at most: make room again so later runs reach the validation.
    if (answer.status === 201) expect((await api('DELETE', `/clients/${id}/secrets/${answer.body.id}`)).status === 204, 'could not delete the new secret');
  });
  spread();

  await holds(t, 'POST /users', 200, body(userBody), async (b) => {
    const answer = await run({ method: 'POST', path: '/users', body: b });
    if (answer.status === 201 && b.kind === 'json' && typeof (b.value as { name?: unknown }).name === 'string') {
      expect(answer.body.name === (b.value as { name: string }).name, 'the name stored is not the name sent', { sent: (b.value as { name: string }).name, stored: answer.body.name });
    }
  });
  spread();

  await holds(t, 'PATCH /users/{id}', 200, fc.tuple(userIds, body(userPatch)), async ([id, b]) => {
    await run({ method: 'PATCH', path: `/users/${id}`, body: b });
  });
  spread();

  await holds(t, 'GET /clients and /users with arbitrary query strings', 300, fc.tuple(fc.constantFrom('/clients', '/users'), query(cursors)), async ([path, q]) => {
    const answer = await run({ method: 'GET', path: `${path}?${q}`, body: { kind: 'none' } });
    if (answer.status === 200) {
      expect(Array.isArray(answer.body.items) && (answer.body.nextCursor === null || typeof answer.body.nextCursor === 'string'), 'not a page', answer.text);
    }
  });
  spread();

  await holds(
    t,
    'GET, DELETE and secret paths with arbitrary ids',
    250,
    fc.oneof(
      fc.tuple(fc.constantFrom('GET', 'DELETE', 'PUT', 'OPTIONS'), pathId).map(([method, id]) => `${method} /clients/${id}`),
      fc.tuple(fc.constantFrom('GET', 'DELETE', 'PUT'), pathId).map(([method, id]) => `${method} /users/${id}`),
      fc.tuple(fc.constantFrom('GET', 'POST'), pathId).map(([method, id]) => `${method} /clients/${id}/secrets`),
      fc.tuple(clientIds, secretIds).map(([id, secretId]) => `DELETE /clients/${id}/secrets/${secretId === seeds.hybrid.secrets[0].id && id === seeds.hybrid.id ? 'x' : secretId}`),
      fc.tuple(fc.constantFrom<string>(seeds.hybrid.id, seeds.spa.id, seeds.user.id), fc.constantFrom('GET', 'HEAD', 'OPTIONS')).map(([id, method]) => `${method} /clients/${id}`),
      fc.tuple(fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE'), fc.array(pathId, { minLength: 1, maxLength: 4 })).map(([method, parts]) => `${method} /${parts.join('/')}`),
    ),
    async (line) => {
      const [method, path] = line.split(' ') as [string, string];
      const answer = await run({ method, path, body: { kind: 'none' } });
      if (method === 'DELETE') expect(answer.status !== 204, 'an arbitrary id deleted something', line);
    },
  );
  spread();

  // The seeds are still there (no refused request deleted them).
  for (const id of [seeds.hybrid.id, seeds.spa.id, seeds.machine.id]) t.equal((await api('GET', `/clients/${id}`)).status, 200);
});

t.test('a list cursor is one the server could have given out, or a 400', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const cursor = (date: string, id: string) => Buffer.from(JSON.stringify([date, id])).toString('base64url');
  const id = '5f0c7d9e-3b1a-4c2d-8e4f-1a2b3c4d5e6f';
  const refused: Array<[string, string]> = [
    ['a date after the last one JavaScript holds, beyond Postgres', cursor('+275760-09-13T00:00:00.000Z', id)],
    ['a date before the first one JavaScript holds, beyond Postgres', cursor('-271821-04-20T00:00:00.000Z', id)],
    ['a date Postgres holds in a form the server never writes', cursor('2024-01-01', id)],
    ['a date that does not exist', cursor('2024-02-30T00:00:00.000Z', id)],
    ['36 dashes for an id', cursor('2024-01-01T00:00:00.000Z', '-'.repeat(36))],
    ['an id of the right characters but not a UUID', cursor('2024-01-01T00:00:00.000Z', '0123456789abcdef0123456789abcdef----')],
  ];
  for (const [what, value] of refused) {
    for (const path of ['/clients', '/users']) {
      const answer = await api('GET', `${path}?cursor=${value}`);
      t.equal(answer.status, 400, `${path}, ${what}: 400`);
      t.match(answer.body, { status: 400, errors: [{ path: 'cursor', message: /not a cursor this server gave out/ }] });
    }
  }
  // Dates at either end of what the server could write still page.
  for (const date of ['0001-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
    const answer = await api('GET', `/clients?cursor=${cursor(date, id)}`);
    t.equal(answer.status, 200, `a cursor at ${date}: 200`);
  }
});

t.test('names are stored as sent or refused: no lone surrogates', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  for (const name of ['a\ud800b', '\udfff', 'x\udc00']) {
    const client = await api('POST', '/clients', { type: 'client-credentials', name });
    t.equal(client.status, 400, `client name ${JSON.stringify(name)}: 400`);
    t.match(client.body.errors, [{ path: 'name', message: /Unicode/ }]);
    const user = await api('POST', '/users', { username: 'lone-surrogate', name });
    t.equal(user.status, 400, `user name ${JSON.stringify(name)}: 400`);
    const secret = await api('POST', '/clients', { type: 'client-credentials', name: 'M', secret: { description: name } });
    t.equal(secret.status, 400, `secret description ${JSON.stringify(name)}: 400`);
  }
  const emoji = await api('POST', '/clients', { type: 'client-credentials', name: 'Rocket 🚀 café' });
  t.equal(emoji.status, 201);
  t.equal(emoji.body.client.name, 'Rocket 🚀 café', 'well-formed Unicode is kept as sent');
});

t.test('a path Fastify cannot decode, or a parameter over its length limit, is answered as problem+json', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  for (const path of ['/clients/%', '/users/%zz', '/clients/%E0%A4%A/secrets']) {
    const answer = await api('GET', path);
    t.equal(answer.status, 400, `${path}: 400`);
    t.match(answer.headers.get('content-type'), /^application\/problem\+json/);
    t.match(answer.body, { status: 400, title: String, detail: String, type: String });
  }
  const long = await api('GET', `/clients/${'a'.repeat(500)}`);
  t.equal(long.status, 414);
  t.match(long.headers.get('content-type'), /^application\/problem\+json/);
  t.match(long.body, { status: 414, detail: String });
});
