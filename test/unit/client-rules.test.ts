import t from 'tap';
import { FIELD_PROBLEM_CODES } from '../../src/errors.ts';
import {
  CLIENT_TYPES,
  corsOriginProblem,
  FIELDS_BY_TYPE,
  isNativeUrl,
  LIMITS,
  redirectUriProblem,
  TYPES_WITH_SECRETS,
  URL_LISTS,
  urlListItemProblem,
} from '../../src/rules/client-rules.js';

/** The module the server and the browser share: plain JavaScript, each rule with its code and message. */

t.test('redirect and logout URLs: each rule its code', async (t) => {
  const cases: Array<[string, string, RegExp, Record<string, unknown>?]> = [
    [`https://app.example.com/${'a'.repeat(2000)}`, 'too-long', /longer than 2000 characters/, { limit: 2000 }],
    ['/callback', 'not-absolute-url', /not an absolute URL/],
    ['https://*.example.com/cb', 'wildcard', /wildcards are not allowed/],
    ['https://user:pw@app.example.com/cb', 'userinfo', /user name or password/],
    ['https://app.example.com/cb#top', 'fragment', /fragment/],
    ['HTTPS://App.Example.com/cb', 'not-canonical', /write it as "https:\/\/app.example.com\/cb"/, { canonical: 'https://app.example.com/cb' }],
    ['http://app.example.com/cb', 'insecure-http', /not loopback/],
    ['myapp:/cb', 'scheme-not-allowed', /reverse-domain form/],
    ['com.example.app:cb', 'path-required', /needs a path/],
  ];
  for (const [uri, code, message, more] of cases) {
    const problem = redirectUriProblem(uri);
    t.match(problem, { code, message, ...more }, `${uri.slice(0, 40)}: ${code}`);
    t.ok(FIELD_PROBLEM_CODES.includes(problem!.code as never), `${code} is an API code`);
  }
  for (const uri of ['https://app.example.com/cb', 'http://127.0.0.1:8080/cb', 'http://[::1]/cb', 'http://localhost/cb', 'com.example.app:/callback']) {
    t.equal(redirectUriProblem(uri), undefined, `accepted: ${uri}`);
  }
  t.equal(isNativeUrl(new URL('http://localhost/cb')), true);
  t.equal(isNativeUrl(new URL('com.example.app:/cb')), true);
  t.equal(isNativeUrl(new URL('https://localhost/cb')), false);
});

t.test('CORS origins: each rule its code', async (t) => {
  t.match(corsOriginProblem('app.example.com'), { code: 'not-an-origin', message: /not an origin such as/ });
  t.match(corsOriginProblem('https://app.example.com/'), { code: 'not-canonical', canonical: 'https://app.example.com' });
  t.match(corsOriginProblem('http://app.example.com'), { code: 'insecure-http', message: /must be https/ });
  t.equal(corsOriginProblem('https://app.example.com'), undefined);
  t.equal(corsOriginProblem('http://localhost:5173'), undefined);
});

t.test('adding to a URL list: the item\'s own rule, then duplicates, then a full list', async (t) => {
  const ten = Array.from({ length: 10 }, (_, i) => `https://app.example.com/cb${i}`);
  t.match(urlListItemProblem('redirectUris', 'http://app.example.com/cb', []), { code: 'insecure-http' });
  t.match(urlListItemProblem('redirectUris', ten[3]!, ten.slice(0, 5)), { code: 'duplicate', message: '"https://app.example.com/cb3" is listed twice' });
  t.same(urlListItemProblem('postLogoutRedirectUris', 'https://app.example.com/new', ten), { code: 'too-many', message: 'must list at most 10 URLs', limit: 10 });
  t.equal(urlListItemProblem('redirectUris', 'https://app.example.com/new', ten.slice(0, 9)), undefined, 'a tenth may be added');
  t.match(urlListItemProblem('allowedCorsOrigins', 'https://app.example.com/x', []), { code: 'not-canonical' }, 'origins follow the origin rule');
  t.equal(urlListItemProblem('allowedCorsOrigins', 'https://app.example.com', ['https://other.example.com']), undefined);
});

t.test('the constants', async (t) => {
  t.same(CLIENT_TYPES, ['hybrid', 'authorization-code', 'client-credentials']);
  t.same(TYPES_WITH_SECRETS, ['hybrid', 'client-credentials']);
  t.same(FIELDS_BY_TYPE['client-credentials'], ['name', 'enabled', 'accessTokenLifetime', 'roles']);
  t.same(LIMITS, { name: { max: 100 }, accessTokenLifetime: { min: 60, max: 3600, default: 3600 }, secretDescription: { max: 100 }, urls: { maxLength: 2000 } });
  t.same(URL_LISTS.redirectUris, { min: 1, max: 10, item: 'redirect' });
  t.ok(Object.isFrozen(LIMITS.accessTokenLifetime), 'frozen: a caller cannot loosen a rule');
});
