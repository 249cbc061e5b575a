import { readFileSync } from 'node:fs';
import t from 'tap';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020Module from 'ajv/dist/2020.js';
// ajv-formats comes with @seriousme/openapi-schema-validator (one of its dependencies): formats are checked too.
import addFormatsModule from 'ajv-formats';
import { openApiDocument, openApiText } from '../../src/http/admin-api/openapi.ts';
import { adminToken, answerOf, apiFor, clientCredentials, type Api, type ApiAnswer } from '../helpers/admin.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { createClient } from '../helpers/fixtures.ts';

const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const doc = openApiDocument() as Json;
const committed = readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8');

t.test('the document is a valid OpenAPI 3.1 document, and docs/openapi.json is the current one', async (t) => {
  const result = await new Validator().validate(doc);
  t.same(result.errors, undefined, 'no errors');
  t.equal(result.valid, true);
  t.equal(doc.openapi, '3.1.0');
  t.equal(committed, openApiText(), 'docs/openapi.json is up to date (npm run openapi writes it)');
});

t.test('GET /api/v1/openapi.json: the document, without a token', async (t) => {
  const kh = await startTestApp(t);
  const response = await fetch(`${kh.origin}/api/v1/openapi.json`);
  t.equal(response.status, 200);
  t.match(response.headers.get('content-type'), /^application\/json/);
  t.equal(response.headers.get('cache-control'), 'public, max-age=300', 'cacheable, unlike every other answer of the API');
  t.equal(await response.text(), committed, 'the committed document, byte for byte');
  const withBadToken = await apiFor(kh, 'not-a-token')('GET', '/openapi.json');
  t.equal(withBadToken.status, 200, 'a token, even a bad one, changes nothing');
  const neighbour = await fetch(`${kh.origin}/api/v1/openapi.yaml`);
  t.equal(neighbour.status, 401, 'only that route is public: any other needs a token');
  const other = await fetch(`${kh.origin}/api/v1/clients`);
  t.equal(other.status, 401);
});

type Ok = (value: unknown, message: string) => void;

/** Checks answers against the document: status documented, body valid against its schema, headers sent. */
function documentChecker(ok: Ok) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const base = 'https://keyhold.test/openapi.json';
  ajv.addSchema({ ...doc, $id: base });
  const seen = new Map<string, Set<string>>();
  const escape = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');

  return {
    seen,
    /** Checks one answer of `method path` (`path` as the document spells it). */
    check(method: string, path: string, answer: ApiAnswer, what: string) {
      const key = `${method} ${path}`;
      const operation = doc.paths[path]?.[method.toLowerCase()];
      ok(operation, `${key} is documented`);
      if (!operation) return;
      const status = String(answer.status);
      const documented = operation.responses[status];
      ok(documented, `${key}: ${status} is documented (${what}) ${answer.text.slice(0, 300)}`);
      if (!documented) return;
      seen.set(key, (seen.get(key) ?? new Set()).add(status));
      const pointer = typeof documented.$ref === 'string' ? (documented.$ref as string).slice(1) : `/paths/${escape(path)}/${method.toLowerCase()}/responses/${status}`;
      const response = pointer.slice(1).split('/').reduce((node: Json, part) => node[part.replaceAll('~1', '/').replaceAll('~0', '~')], doc);
      for (const name of Object.keys(response.headers ?? {})) ok(answer.headers.get(name), `${key} ${status}: ${name} is sent`);
      if (!response.content) {
        ok(answer.text === '', `${key} ${status}: no body`);
        return;
      }
      const contentType = answer.headers.get('content-type')?.split(';')[0] ?? '';
      ok(response.content[contentType], `${key} ${status}: ${contentType} is the documented media type`);
      if (!response.content[contentType]) return;
      const validate = ajv.compile({ $ref: `${base}#${pointer}/content/${escape(contentType)}/schema` });
      ok(validate(answer.body), `${key} ${status}: the body matches its schema (${what}) ${JSON.stringify(validate.errors ?? [])}`);
    },
  };
}

t.test('the checker refuses an answer the document does not describe', async (t) => {
  const failures: string[] = [];
  const checker = documentChecker((value, message) => {
    if (!value) failures.push(message);
  });
  const answer = async (status: number, body: unknown, type = 'application/json') =>
    answerOf(new Response(JSON.stringify(body), { status, headers: { 'content-type': type } }));
  checker.check('GET', '/users', await answer(200, { items: [], nextCursor: null }), 'an empty page');
  t.same(failures, [], 'a valid answer passes');
  checker.check('GET', '/users', await answer(200, { items: [{ id: 'x' }], nextCursor: null }), 'a user without its fields');
  t.equal(failures.length, 1, 'a body off its schema fails');
  checker.check('GET', '/users', await answer(409, { type: 'about:blank', title: 'x', status: 409, detail: 'x' }, 'application/problem+json'), 'a conflict');
  t.equal(failures.length, 2, 'an undocumented status fails');
  checker.check('GET', '/users', await answer(401, { type: 'about:blank', title: 'x', status: 401, detail: 'x' }, 'application/problem+json'), 'no challenge');
  t.equal(failures.length, 3, 'a 401 without its WWW-Authenticate fails');
});

t.test('every operation answers as documented, errors included', async (t) => {
  const kh: TestApp = await startTestApp(t);
  const { api: adminApi } = await adminToken(kh);
  const checker = documentChecker((value, message) => t.ok(value, message));

  /** Calls the API and checks the answer; `path` as the document spells it, with `params` filled in. */
  const call = async (api: Api, method: string, path: string, params: Record<string, string>, body?: unknown, init?: Parameters<Api>[3], what = '') => {
    const url = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name]!));
    const answer = await api(method, url, body, init);
    checker.check(method, path, answer, what || `${method} ${url}`);
    return answer;
  };
  const as = (method: string, path: string, params: Record<string, string> = {}, body?: unknown, init?: Parameters<Api>[3], what?: string) =>
    call(adminApi, method, path, params, body, init, what);

  // Clients of each type.
  const hybrid = await as('POST', '/clients', {}, { type: 'hybrid', name: 'Web', redirectUris: ['https://app.example.com/cb'] });
  t.equal(hybrid.status, 201);
  t.ok(hybrid.body.secret?.value, 'with its first secret');
  const spa = await as('POST', '/clients', {}, { type: 'authorization-code', name: 'SPA', redirectUris: ['https://spa.example.com/cb'], allowedCorsOrigins: ['https://spa.example.com'] });
  t.equal(spa.status, 201);
  const machine = await as('POST', '/clients', {}, { type: 'client-credentials', name: 'Batch', roles: ['resource-server'], secret: { description: 'first', neverExpires: true } });
  t.equal(machine.status, 201);
  const hybridId = hybrid.body.client.id as string;
  const spaId = spa.body.client.id as string;

  const invalid = await as('POST', '/clients', {}, { type: 'hybrid', name: '', redirectUris: [], roles: ['admin'] });
  t.equal(invalid.status, 400);
  t.ok(invalid.body.errors.length >= 2, 'every broken rule, in errors[]');
  t.equal((await as('POST', '/clients', {}, undefined, { raw: '{"type":' })).status, 400, 'malformed JSON');
  t.equal((await as('POST', '/clients', {}, undefined, { raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status, 415);
  t.equal((await as('POST', '/clients', {}, { type: 'hybrid', name: 'x'.repeat(2 * 1024 * 1024), redirectUris: ['https://a.example.com/cb'] })).status, 413);

  const list = await as('GET', '/clients', {});
  t.equal(list.status, 200);
  const firstPage = await adminApi('GET', '/clients?limit=1&type=hybrid');
  checker.check('GET', '/clients', firstPage, 'a page of one');
  t.equal(firstPage.body.items.length, 1);
  const twoPages = await adminApi('GET', '/clients?limit=1');
  checker.check('GET', '/clients', twoPages, 'a first page');
  t.type(twoPages.body.nextCursor, 'string', 'more follow');
  const badQuery = await adminApi('GET', '/clients?limit=0&colour=red');
  checker.check('GET', '/clients', badQuery, 'a bad query');
  t.equal(badQuery.status, 400);

  t.equal((await as('GET', '/clients/{id}', { id: hybridId })).status, 200);
  t.equal((await as('GET', '/clients/{id}', { id: spaId })).status, 200);
  t.equal((await as('GET', '/clients/{id}', { id: 'nope' })).status, 404);
  t.equal((await as('PATCH', '/clients/{id}', { id: hybridId }, { name: 'Web app', allowRefreshToken: true })).status, 200);
  const badPatch = await as('PATCH', '/clients/{id}', { id: hybridId }, { accessTokenLifetime: 5, type: 'client-credentials' });
  t.equal(badPatch.status, 400);
  t.equal(badPatch.body.errors.length, 2);
  t.equal((await as('PATCH', '/clients/{id}', { id: hybridId }, undefined, { raw: 'x', headers: { 'content-type': 'text/plain' } })).status, 415);
  t.equal((await as('PATCH', '/clients/{id}', { id: 'nope' }, { name: 'x' })).status, 404);

  // Secrets.
  t.equal((await as('GET', '/clients/{id}/secrets', { id: hybridId })).status, 200);
  t.equal((await as('GET', '/clients/{id}/secrets', { id: 'nope' })).status, 404);
  const added = await as('POST', '/clients/{id}/secrets', { id: hybridId });
  t.equal(added.status, 201, 'without a body: the defaults');
  t.equal((await as('POST', '/clients/{id}/secrets', { id: hybridId }, { description: 'rotation', expiresAt: '2999-01-31' })).status, 201);
  t.equal((await as('POST', '/clients/{id}/secrets', { id: hybridId }, { expiresAt: '2001-01-01', neverExpires: true })).status, 400);
  t.equal((await as('POST', '/clients/{id}/secrets', { id: spaId }, {})).status, 409, 'public clients hold no secrets');
  t.equal((await as('DELETE', '/clients/{id}/secrets/{secretId}', { id: hybridId, secretId: added.body.id })).status, 204);
  t.equal((await as('DELETE', '/clients/{id}/secrets/{secretId}', { id: hybridId, secretId: added.body.id })).status, 404);
  t.equal((await as('DELETE', '/clients/{id}', { id: spaId })).status, 204);
  t.equal((await as('DELETE', '/clients/{id}', { id: spaId })).status, 404);

  // Users.
  const root = await as('POST', '/users', {}, { username: 'root', email: 'root@example.com', name: 'Root', roles: ['admin'], password: 'a long passphrase' });
  t.equal(root.status, 201);
  const bob = await as('POST', '/users', {}, { username: 'bob' });
  t.equal(bob.status, 201);
  t.equal((await as('POST', '/users', {}, { username: 'BOB' })).status, 409, 'taken, whatever the case');
  t.equal((await as('POST', '/users', {}, { username: 'with space', password: 'short' })).status, 400);
  t.equal((await as('GET', '/users', {})).status, 200);
  const badUsers = await adminApi('GET', '/users?cursor=forged');
  checker.check('GET', '/users', badUsers, 'a forged cursor');
  t.equal(badUsers.status, 400);
  t.equal((await as('GET', '/users/{id}', { id: root.body.id })).status, 200);
  t.equal((await as('GET', '/users/{id}', { id: '00000000-0000-4000-8000-000000000000' })).status, 404);
  t.equal((await as('PATCH', '/users/{id}', { id: bob.body.id }, { name: 'Bob', email: null })).status, 200);
  const lastAdmin = await as('PATCH', '/users/{id}', { id: root.body.id }, { disabled: true });
  t.equal(lastAdmin.status, 409, 'the last enabled administrator');
  t.match(lastAdmin.body.detail, /last enabled administrator/);
  t.equal((await as('DELETE', '/users/{id}', { id: root.body.id })).status, 409, 'cannot be deleted either');
  t.equal((await as('PATCH', '/users/{id}', { id: bob.body.id }, { username: 'robert' })).status, 400);
  t.equal((await as('POST', '/users/{id}/unlock', { id: bob.body.id })).status, 200);
  t.equal((await as('POST', '/users/{id}/unlock', { id: '00000000-0000-4000-8000-000000000000' })).status, 404);
  t.equal((await as('DELETE', '/users/{id}', { id: bob.body.id })).status, 204);
  t.equal((await as('DELETE', '/users/{id}', { id: bob.body.id })).status, 404);

  // The audit trail, which every change above wrote to.
  const events = await as('GET', '/audit-events', {});
  t.equal(events.status, 200);
  t.ok(events.body.items.length > 5);
  const filtered = await adminApi('GET', `/audit-events?type=client.created&clientId=${hybridId}&since=2020-01-01T00:00:00Z`);
  checker.check('GET', '/audit-events', filtered, 'filtered');
  t.equal(filtered.body.items.length, 1);
  const badSince = await adminApi('GET', '/audit-events?since=yesterday');
  checker.check('GET', '/audit-events', badSince, 'a bad date');
  t.equal(badSince.status, 400);

  // Without a token, with a bad one, with one that is not an administrator's.
  const anonymous = apiFor(kh, undefined);
  t.equal((await call(anonymous, 'GET', '/users', {})).status, 401);
  t.equal((await call(apiFor(kh, 'forged'), 'DELETE', '/clients/{id}', { id: hybridId })).status, 401);
  const { client, secret } = await createClient(kh.clients, { type: 'client-credentials', name: 'Not admin', roles: [], redirectUris: [], postLogoutRedirectUris: [] });
  const granted = await clientCredentials(kh, client.id, secret, '');
  t.equal(granted.status, 200);
  const notAdmin = apiFor(kh, granted.body.access_token as string);
  t.equal((await call(notAdmin, 'POST', '/clients', {}, { type: 'hybrid' })).status, 403);
  t.equal((await call(notAdmin, 'GET', '/audit-events', {})).status, 403);

  // Every operation was called, and each error status the brief of the API names was seen.
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const method of ['get', 'post', 'patch', 'put', 'delete']) {
      if (!item[method] || path === '/openapi.json') continue;
      const key = `${method.toUpperCase()} ${path}`;
      const statuses = checker.seen.get(key);
      t.ok(statuses && [...statuses].some((s) => s.startsWith('2')), `${key} was called and succeeded`);
    }
  }
  const all = new Set([...checker.seen.values()].flatMap((s) => [...s]));
  for (const status of ['200', '201', '204', '400', '401', '403', '404', '409', '413', '415']) t.ok(all.has(status), `a ${status} was checked`);

});
