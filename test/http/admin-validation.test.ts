import t from 'tap';
import { FIELD_PROBLEM_CODES } from '../../src/errors.ts';
import { adminToken } from '../helpers/admin.ts';
import { startTestApp } from '../helpers/app.ts';

/** Every rule of the admin API's input, through real HTTP: each bad body gets a 400 naming the field and the rule. */

const hybrid = (fields: Record<string, unknown>) => ({ type: 'hybrid', name: 'App', redirectUris: ['https://app.example.com/cb'], ...fields });
const future = new Date(Date.now() + 3600_000).toISOString();
const past = new Date(Date.now() - 60_000).toISOString();
const long = `https://app.example.com/${'a'.repeat(2980)}`;

/** [what, body, the error path, a pattern the message must match] */
const BAD_CLIENTS: Array<[string, unknown, string, RegExp]> = [
  ['javascript: URL', hybrid({ redirectUris: ['javascript:alert(1)'] }), 'redirectUris.0', /"javascript:alert\(1\)" is not accepted: use https/],
  ['vbscript: URL', hybrid({ redirectUris: ['vbscript:msgbox(1)'] }), 'redirectUris.0', /is not accepted/],
  ['data: URL', hybrid({ redirectUris: ['data:text/html,<script>alert(1)</script>'] }), 'redirectUris.0', /is not accepted/],
  ['file: URL', hybrid({ redirectUris: ['file:///etc/passwd'] }), 'redirectUris.0', /is not accepted/],
  ['mixed-case scheme', hybrid({ redirectUris: ['HTTPS://app.example.com/cb'] }), 'redirectUris.0', /not in canonical form: write it as "https:\/\/app\.example\.com\/cb"/],
  ['mixed-case private-use scheme', hybrid({ redirectUris: ['Com.Example.App:/cb'] }), 'redirectUris.0', /not in canonical form/],
  ['relative URL', hybrid({ redirectUris: ['/callback'] }), 'redirectUris.0', /"\/callback" is not an absolute URL/],
  ['scheme-relative URL', hybrid({ redirectUris: ['//app.example.com/cb'] }), 'redirectUris.0', /not an absolute URL/],
  ['empty URL', hybrid({ redirectUris: [''] }), 'redirectUris.0', /not an absolute URL/],
  ['fragment', hybrid({ redirectUris: ['https://app.example.com/cb#frag'] }), 'redirectUris.0', /has a fragment/],
  ['empty fragment', hybrid({ redirectUris: ['https://app.example.com/cb#'] }), 'redirectUris.0', /has a fragment/],
  ['user info', hybrid({ redirectUris: ['https://user:pass@app.example.com/cb'] }), 'redirectUris.0', /user name or password/],
  ['user name only', hybrid({ redirectUris: ['https://user@app.example.com/cb'] }), 'redirectUris.0', /user name or password/],
  ['wildcard host', hybrid({ redirectUris: ['https://*.example.com/cb'] }), 'redirectUris.0', /wildcards are not allowed/],
  ['wildcard path', hybrid({ redirectUris: ['https://app.example.com/*'] }), 'redirectUris.0', /wildcards are not allowed/],
  ['upper-case host', hybrid({ redirectUris: ['https://App.Example.com/cb'] }), 'redirectUris.0', /not in canonical form: write it as "https:\/\/app\.example\.com\/cb"/],
  ['default port written out', hybrid({ redirectUris: ['https://app.example.com:443/cb'] }), 'redirectUris.0', /not in canonical form/],
  ['dot segments in the path', hybrid({ redirectUris: ['https://app.example.com/a/../cb'] }), 'redirectUris.0', /not in canonical form/],
  ['no path', hybrid({ redirectUris: ['https://app.example.com'] }), 'redirectUris.0', /write it as "https:\/\/app\.example\.com\/"/],
  ['leading space', hybrid({ redirectUris: [' https://app.example.com/cb'] }), 'redirectUris.0', /not in canonical form/],
  ['unencoded space in the path', hybrid({ redirectUris: ['https://app.example.com/a b'] }), 'redirectUris.0', /not in canonical form/],
  ['loopback in another spelling', hybrid({ redirectUris: ['http://127.1/cb'] }), 'redirectUris.0', /not in canonical form/],
  ['plain http on a public host', hybrid({ redirectUris: ['http://app.example.com/cb'] }), 'redirectUris.0', /plain http on a host that is not loopback/],
  ['plain http on a private address', hybrid({ redirectUris: ['http://10.0.0.1/cb'] }), 'redirectUris.0', /plain http on a host that is not loopback/],
  ['private-use scheme not in reverse-domain form', hybrid({ redirectUris: ['myapp:/cb'] }), 'redirectUris.0', /reverse-domain form/],
  ['private-use scheme without a path', hybrid({ redirectUris: ['com.example.app:cb'] }), 'redirectUris.0', /needs a path/],
  ['3000-character URL', hybrid({ redirectUris: [long] }), 'redirectUris.0', /is longer than 2000 characters/],
  ['11 redirect URLs', hybrid({ redirectUris: Array.from({ length: 11 }, (_, i) => `https://app.example.com/cb${i}`) }), 'redirectUris', /at most 10/],
  ['11 logout URLs', hybrid({ postLogoutRedirectUris: Array.from({ length: 11 }, (_, i) => `https://app.example.com/out${i}`) }), 'postLogoutRedirectUris', /at most 10/],
  ['no redirect URL', hybrid({ redirectUris: [] }), 'redirectUris', /at least one/],
  ['redirect URLs missing', { type: 'hybrid', name: 'App' }, 'redirectUris', /./],
  ['duplicate redirect URL', hybrid({ redirectUris: ['https://app.example.com/cb', 'https://app.example.com/cb'] }), 'redirectUris.1', /listed twice/],
  ['bad logout URL', hybrid({ postLogoutRedirectUris: ['javascript:alert(1)'] }), 'postLogoutRedirectUris.0', /is not accepted/],
  ['redirect URL not a string', hybrid({ redirectUris: [42] }), 'redirectUris.0', /string/],
  ['redirect URLs not an array', hybrid({ redirectUris: 'https://app.example.com/cb' }), 'redirectUris', /array/],
  ['https on loopback mixed with native URLs', hybrid({ redirectUris: ['https://localhost/cb', 'http://127.0.0.1/cb'] }), 'redirectUris.0', /cannot be combined with native-app URLs/],
  ['lifetime 59', hybrid({ accessTokenLifetime: 59 }), 'accessTokenLifetime', /60 to 3600/],
  ['lifetime 3601', hybrid({ accessTokenLifetime: 3601 }), 'accessTokenLifetime', /60 to 3600/],
  ['lifetime 60.5', hybrid({ accessTokenLifetime: 60.5 }), 'accessTokenLifetime', /whole number/],
  ['lifetime "60"', hybrid({ accessTokenLifetime: '60' }), 'accessTokenLifetime', /whole number/],
  ['lifetime null', hybrid({ accessTokenLifetime: null }), 'accessTokenLifetime', /whole number/],
  ['lifetime 0', hybrid({ accessTokenLifetime: 0 }), 'accessTokenLifetime', /60 to 3600/],
  ['lifetime 1e9', hybrid({ accessTokenLifetime: 1e9 }), 'accessTokenLifetime', /60 to 3600/],
  ['empty name', hybrid({ name: '' }), 'name', /must not be empty/],
  ['blank name', hybrid({ name: '   ' }), 'name', /must not be blank/],
  ['101-character name', hybrid({ name: 'n'.repeat(101) }), 'name', /at most 100 characters/],
  ['name with a control character', hybrid({ name: 'a\u0007b' }), 'name', /control characters/],
  ['name with a newline', hybrid({ name: 'a\nb' }), 'name', /control characters/],
  ['name not a string', hybrid({ name: 7 }), 'name', /string/],
  ['name missing', { type: 'hybrid', redirectUris: ['https://app.example.com/cb'] }, 'name', /./],
  ['enabled "true"', hybrid({ enabled: 'true' }), 'enabled', /boolean/],
  ['allowRefreshToken 1', hybrid({ allowRefreshToken: 1 }), 'allowRefreshToken', /boolean/],
  ['unknown field', hybrid({ colour: 'blue' }), 'colour', /Unrecognized key/],
  ['constructor as a field', hybrid({ constructor: 'x' }), 'constructor', /Unrecognized key/],
  ['toString as a field', hybrid({ toString: 'x' }), 'toString', /Unrecognized key/],
  ['secret expiry a past date', hybrid({ secret: { expiresAt: '2001-01-01' } }), 'secret.expiresAt', /in the future/],
  ['secret expiry an impossible date', hybrid({ secret: { expiresAt: '2030-02-30' } }), 'secret.expiresAt', /ISO-8601/],
  ['id given', hybrid({ id: '00000000-0000-4000-8000-000000000000' }), 'id', /set by the server/],
  ['secrets given', hybrid({ secrets: [] }), 'secrets', /set by the server/],
  ['roles on a hybrid client', hybrid({ roles: ['admin'] }), 'roles', /does not apply to hybrid clients/],
  ['allowedCorsOrigins on a hybrid client', hybrid({ allowedCorsOrigins: ['https://app.example.com'] }), 'allowedCorsOrigins', /does not apply/],
  ['redirect URLs on a client-credentials client', { type: 'client-credentials', name: 'M', redirectUris: ['https://a.example.com/'] }, 'redirectUris', /does not apply to client-credentials/],
  ['unknown role', { type: 'client-credentials', name: 'M', roles: ['root'] }, 'roles.0', /must be one of "admin"/],
  ['secret on an authorization-code client', { type: 'authorization-code', name: 'SPA', redirectUris: ['https://spa.example.com/cb'], secret: {} }, 'secret', /hold no secrets/],
  ['CORS origin with a path', { type: 'authorization-code', name: 'SPA', redirectUris: ['https://spa.example.com/cb'], allowedCorsOrigins: ['https://spa.example.com/app'] }, 'allowedCorsOrigins.0', /not an origin in canonical form/],
  ['CORS origin on plain http', { type: 'authorization-code', name: 'SPA', redirectUris: ['https://spa.example.com/cb'], allowedCorsOrigins: ['http://spa.example.com'] }, 'allowedCorsOrigins.0', /https/],
  ['unknown type', { type: 'implicit', name: 'x' }, 'type', /one of hybrid, authorization-code, client-credentials/],
  ['type missing', { name: 'x' }, 'type', /one of/],
  ['secret expiry in the past', hybrid({ secret: { expiresAt: past } }), 'secret.expiresAt', /in the future/],
  ['secret expiry not a date', hybrid({ secret: { expiresAt: 'next year' } }), 'secret.expiresAt', /ISO-8601/],
  ['secret expiry as a number', hybrid({ secret: { expiresAt: Date.now() + 1e9 } }), 'secret.expiresAt', /ISO-8601/],
  ['secret expiry and never expires', hybrid({ secret: { expiresAt: future, neverExpires: true } }), 'secret.neverExpires', /not both/],
  ['secret with an unknown field', hybrid({ secret: { value: 'my-own-secret' } }), 'secret.value', /Unrecognized key/],
  ['secret description too long', hybrid({ secret: { description: 'd'.repeat(101) } }), 'secret.description', /at most 100/],
  ['body is an array', [hybrid({})], '', /JSON object/],
  ['body is null', null, '', /JSON object/],
  ['body is a string', 'hybrid', '', /JSON object/],
];

t.test('bad client bodies: 400 naming the field and the rule, and nothing changes', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const before = (await api('GET', '/clients')).body;
  t.ok(BAD_CLIENTS.length >= 40, `${BAD_CLIENTS.length} bad inputs`);
  for (const [what, body, path, message] of BAD_CLIENTS) {
    const answer = await api('POST', '/clients', body);
    t.equal(answer.status, 400, `${what}: 400`);
    t.match(answer.headers.get('content-type'), /^application\/problem\+json/, `${what}: problem+json`);
    const error = answer.body?.errors?.find((e: { path: string }) => e.path === path);
    t.ok(error, `${what}: names ${path || 'the body'} (got ${JSON.stringify(answer.body?.errors)})`);
    t.match(error?.message, message, `${what}: says which rule`);
    t.ok(FIELD_PROBLEM_CODES.includes(error?.code), `${what}: a code of the list (${error?.code})`);
    t.match(answer.body, { type: 'https://keyhold.dev/problems/validation-failed', status: 400, title: String });
    t.match(answer.body.detail, path ? `${path}:` : /./, `${what}: the detail names the field`);
  }
  t.same((await api('GET', '/clients')).body, before, 'no rejected request created anything');
});

/** [what, method and path, body, the error path, the problem (its code, and parameters)] */
const CODED: Array<[string, string, unknown, string, Record<string, unknown>]> = [
  ['not absolute', 'POST /clients', hybrid({ redirectUris: ['/cb'] }), 'redirectUris.0', { code: 'not-absolute-url' }],
  ['wildcard', 'POST /clients', hybrid({ redirectUris: ['https://*.example.com/cb'] }), 'redirectUris.0', { code: 'wildcard' }],
  ['user info', 'POST /clients', hybrid({ redirectUris: ['https://u@app.example.com/cb'] }), 'redirectUris.0', { code: 'userinfo' }],
  ['fragment', 'POST /clients', hybrid({ redirectUris: ['https://app.example.com/cb#x'] }), 'redirectUris.0', { code: 'fragment' }],
  ['not canonical', 'POST /clients', hybrid({ redirectUris: ['https://App.example.com/cb'] }), 'redirectUris.0', { code: 'not-canonical', canonical: 'https://app.example.com/cb' }],
  ['plain http', 'POST /clients', hybrid({ redirectUris: ['http://app.example.com/cb'] }), 'redirectUris.0', { code: 'insecure-http' }],
  ['scheme', 'POST /clients', hybrid({ redirectUris: ['myapp:/cb'] }), 'redirectUris.0', { code: 'scheme-not-allowed' }],
  ['no path', 'POST /clients', hybrid({ redirectUris: ['com.example.app:cb'] }), 'redirectUris.0', { code: 'path-required' }],
  ['URL too long', 'POST /clients', hybrid({ redirectUris: [long] }), 'redirectUris.0', { code: 'too-long', limit: 2000 }],
  ['loopback mix', 'POST /clients', hybrid({ redirectUris: ['https://localhost/cb', 'http://127.0.0.1/cb'] }), 'redirectUris.0', { code: 'loopback-mix' }],
  ['not an origin', 'POST /clients', { type: 'authorization-code', name: 'SPA', redirectUris: ['https://spa.example.com/cb'], allowedCorsOrigins: ['spa'] }, 'allowedCorsOrigins.0', { code: 'not-an-origin' }],
  ['11 URLs', 'POST /clients', hybrid({ redirectUris: Array.from({ length: 11 }, (_, i) => `https://app.example.com/cb${i}`) }), 'redirectUris', { code: 'too-many', limit: 10 }],
  ['no URL', 'POST /clients', hybrid({ redirectUris: [] }), 'redirectUris', { code: 'too-few', limit: 1 }],
  ['duplicate', 'POST /clients', hybrid({ redirectUris: ['https://app.example.com/cb', 'https://app.example.com/cb'] }), 'redirectUris.1', { code: 'duplicate' }],
  ['lifetime', 'POST /clients', hybrid({ accessTokenLifetime: 59 }), 'accessTokenLifetime', { code: 'out-of-range', minimum: 60, maximum: 3600 }],
  ['lifetime "60"', 'POST /clients', hybrid({ accessTokenLifetime: '60' }), 'accessTokenLifetime', { code: 'invalid-type' }],
  ['unknown field', 'POST /clients', hybrid({ colour: 'blue' }), 'colour', { code: 'unknown-field' }],
  ['id', 'POST /clients', hybrid({ id: 'x' }), 'id', { code: 'read-only' }],
  ['version', 'POST /clients', hybrid({ version: 1 }), 'version', { code: 'read-only' }],
  ['roles on hybrid', 'POST /clients', hybrid({ roles: ['admin'] }), 'roles', { code: 'not-applicable' }],
  ['secret on a public client', 'POST /clients', { type: 'authorization-code', name: 'SPA', redirectUris: ['https://spa.example.com/cb'], secret: {} }, 'secret', { code: 'not-applicable' }],
  ['name missing', 'POST /clients', { type: 'hybrid', redirectUris: ['https://app.example.com/cb'] }, 'name', { code: 'required' }],
  ['type missing', 'POST /clients', { name: 'x' }, 'type', { code: 'required' }],
  ['unknown type', 'POST /clients', { type: 'implicit', name: 'x' }, 'type', { code: 'invalid-value', allowed: ['hybrid', 'authorization-code', 'client-credentials'] }],
  ['unknown role', 'POST /clients', { type: 'client-credentials', name: 'M', roles: ['root'] }, 'roles.0', { code: 'invalid-value', allowed: ['admin', 'resource-server'] }],
  ['empty name', 'POST /clients', hybrid({ name: '' }), 'name', { code: 'empty' }],
  ['blank name', 'POST /clients', hybrid({ name: '  ' }), 'name', { code: 'blank' }],
  ['long name', 'POST /clients', hybrid({ name: 'n'.repeat(101) }), 'name', { code: 'too-long', limit: 100 }],
  ['control character', 'POST /clients', hybrid({ name: 'a\u0007' }), 'name', { code: 'control-characters' }],
  ['lone surrogate', 'POST /clients', hybrid({ name: 'a\ud800' }), 'name', { code: 'invalid-unicode' }],
  ['past expiry', 'POST /clients', hybrid({ secret: { expiresAt: past } }), 'secret.expiresAt', { code: 'past-date' }],
  ['expiry format', 'POST /clients', hybrid({ secret: { expiresAt: 'soon' } }), 'secret.expiresAt', { code: 'invalid-format' }],
  ['expiry and never', 'POST /clients', hybrid({ secret: { expiresAt: future, neverExpires: true } }), 'secret.neverExpires', { code: 'conflicting-fields' }],
  ['body an array', 'POST /clients', [], '', { code: 'not-an-object' }],
  ['short password', 'POST /users', { username: 'dan', password: 'short' }, 'password', { code: 'too-short', limit: 8 }],
  ['bad username', 'POST /users', { username: 'a b' }, 'username', { code: 'invalid-format' }],
  ['bad email', 'POST /users', { username: 'dan', email: 'not-an-email' }, 'email', { code: 'invalid-format' }],
  ['secret description', 'POST /clients', hybrid({ secret: { description: 'd'.repeat(101) } }), 'secret.description', { code: 'too-long', limit: 100 }],
];

t.test('every field problem carries a stable code, and its parameters', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  for (const [what, route, body, path, problem] of CODED) {
    const [method, target] = route.split(' ') as [string, string];
    const answer = await api(method, target, body);
    t.equal(answer.status, 400, `${what}: 400`);
    t.match(answer.body.errors, [{ path, ...problem, message: String }], `${what}: ${problem.code} on ${path || 'the body'}`);
  }
  const { client } = (await api('POST', '/clients', hybrid({}))).body;
  t.match((await api('PATCH', `/clients/${client.id}`, { type: 'client-credentials' })).body.errors, [{ path: 'type', code: 'fixed' }]);
  const user = (await api('POST', '/users', { username: 'erin' })).body;
  t.match((await api('PATCH', `/users/${user.id}`, { username: 'eve' })).body.errors, [{ path: 'username', code: 'fixed' }]);
  t.match((await api('PATCH', `/users/${user.id}`, { name: null, roles: ['admin', 'admin'] })).body.errors, [{ path: 'roles.1', code: 'duplicate' }]);
  t.match((await api('GET', '/clients?limit=101')).body.errors, [{ path: 'limit', code: 'out-of-range', minimum: 1, maximum: 100 }]);
  t.match((await api('GET', '/users?cursor=nonsense')).body.errors, [{ path: 'cursor', code: 'invalid-format' }]);
  t.match((await api('GET', '/audit-events?since=yesterday')).body.errors, [{ path: 'since', code: 'invalid-format' }]);
});

t.test('accepted URL forms', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const cases: string[][] = [
    ['https://app.example.com/cb', 'https://app.example.com/cb?x=1', 'https://app.example.com:8443/cb', 'https://localhost/cb'],
    ['http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'http://localhost:4000/callback', 'com.example.app:/callback', 'com.example.app://callback', 'https://app.example.com/cb'],
  ];
  for (const redirectUris of cases) {
    const answer = await api('POST', '/clients', hybrid({ redirectUris }));
    t.equal(answer.status, 201, `accepted: ${redirectUris.join(' ')}`);
    t.same(answer.body.client.redirectUris, redirectUris, 'stored exactly as given');
  }
  const long = `https://app.example.com/${'a'.repeat(2000 - 'https://app.example.com/'.length)}`;
  t.equal((await api('POST', '/clients', hybrid({ redirectUris: [long] }))).status, 201, 'a 2000-character URL is accepted');
  const ten = Array.from({ length: 10 }, (_, i) => `https://app.example.com/cb${i}`);
  t.equal((await api('POST', '/clients', hybrid({ redirectUris: ten, postLogoutRedirectUris: ten }))).status, 201, '10 URLs of each kind are accepted');
  for (const lifetime of [60, 3600]) {
    t.equal((await api('POST', '/clients', hybrid({ accessTokenLifetime: lifetime }))).body.client.accessTokenLifetime, lifetime, `lifetime ${lifetime}`);
  }
});

t.test('bad PATCH bodies are refused and change nothing', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const { client } = (await api('POST', '/clients', hybrid({}))).body;
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['type', { type: 'client-credentials' }, 'type', /fixed at creation/],
    ['lifetime "60"', { accessTokenLifetime: '60' }, 'accessTokenLifetime', /whole number/],
    ['no redirect URL', { redirectUris: [] }, 'redirectUris', /at least one/],
    ['unknown field', { name: 'New', secret: {} }, 'secret', /Unrecognized key/],
    ['createdAt', { createdAt: new Date().toISOString() }, 'createdAt', /set by the server/],
    ['https loopback into a native client', { redirectUris: ['http://127.0.0.1/cb'], postLogoutRedirectUris: ['https://localhost/'] }, 'postLogoutRedirectUris.0', /native-app/],
    ['name null', { name: null }, 'name', /string/],
  ];
  for (const [what, body, path, message] of cases) {
    const answer = await api('PATCH', `/clients/${client.id}`, body);
    t.equal(answer.status, 400, `${what}: 400`);
    t.match(answer.body.errors, [{ path, message }], `${what}: names ${path}`);
  }
  t.same((await api('GET', `/clients/${client.id}`)).body, client, 'the client is as it was');
});

t.test('malformed JSON, wrong media types, bodies over 1 MiB, bad queries', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  for (const raw of ['{', '{"type": "hybrid",}', "{'type': 'hybrid'}", 'hybrid', '', '{"type":"hybrid","__proto__":{"enabled":false}}']) {
    const answer = await api('POST', '/clients', undefined, { raw });
    t.equal(answer.status, 400, `malformed JSON ${JSON.stringify(raw)}: 400`);
    t.match(answer.body, { type: 'https://keyhold.dev/problems/malformed-json', status: 400 });
  }
  for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'application/xml', 'application/merge-patch+json']) {
    const answer = await api('POST', '/clients', undefined, { raw: 'type=hybrid&name=x', headers: { 'content-type': type } });
    t.equal(answer.status, 415, `${type}: 415`);
    t.match(answer.headers.get('content-type'), /^application\/problem\+json/);
  }
  const dated = await api('POST', '/clients', hybrid({ secret: { expiresAt: '2999-12-31' } }));
  t.equal(dated.status, 201, 'a date alone is an accepted expiry');
  t.equal(dated.body.secret.expiresAt, '2999-12-31T00:00:00.000Z');
  t.equal((await api('DELETE', `/clients/${dated.body.client.id}`)).status, 204);
  const big = JSON.stringify(hybrid({ name: 'x'.repeat(1024 * 1024) }));
  const tooLarge = await api('POST', '/clients', undefined, { raw: big });
  t.equal(tooLarge.status, 413, 'a body over 1 MiB: 413');
  t.match(tooLarge.body, { type: 'https://keyhold.dev/problems/payload-too-large', status: 413 });
  t.match(tooLarge.headers.get('content-type'), /^application\/problem\+json/);

  for (const query of ['limit=0', 'limit=101', 'limit=abc', 'limit=1.5', 'type=oauth', 'cursor=nonsense', 'colour=blue']) {
    const answer = await api('GET', `/clients?${query}`);
    t.equal(answer.status, 400, `?${query}: 400`);
    t.equal(answer.body.errors.length, 1);
  }
  t.same((await api('GET', '/clients')).body.items.length, 1, 'still only the automation client');
});
