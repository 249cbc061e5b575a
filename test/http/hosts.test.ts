import t, { type Test } from 'tap';
import { adminToken } from '../helpers/admin.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { codeRequest } from '../helpers/flow.ts';
import { RawAgent, rawRequest } from '../helpers/raw-http.ts';

/**
 * Every URL Keyhold publishes or renders starts with ISSUER, whatever Host or X-Forwarded-* a request
 * carries: discovery, the sign-in and sign-out forms, every redirect of a sign-in and a sign-out. A
 * request for another host is served (with the issuer's URLs), not refused.
 */

const APP = 'https://app.example.com';
const REDIRECT = `${APP}/callback`;
const EVIL = 'evil.example';

/** What an attacker (or a confused proxy) may put on a request. */
const FORGERIES: Array<[string, Record<string, string>]> = [
  ['Host', { host: EVIL }],
  ['Host with a port', { host: `${EVIL}:8443` }],
  ['X-Forwarded-Host and -Proto', { 'x-forwarded-host': EVIL, 'x-forwarded-proto': 'https' }],
  ['Host, X-Forwarded-Host, -Proto and -Port', { host: EVIL, 'x-forwarded-host': `${EVIL}:444`, 'x-forwarded-proto': 'http', 'x-forwarded-port': '444' }],
];

/** Every string in a JSON value that looks like a URL. */
function urlsIn(value: unknown): string[] {
  if (typeof value === 'string') return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(urlsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(urlsIn);
  return [];
}

/** The form actions of a page, unescaped. */
const actionsIn = (html: string) => [...html.matchAll(/<form[^>]*\saction="([^"]*)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));

const onIssuer = (t: Test, kh: TestApp, url: string, what: string) =>
  t.ok(url === kh.issuer || url.startsWith(`${kh.issuer}/`) || url.startsWith(`${new URL(kh.issuer).origin}/`), `${what}: ${url} is the issuer's`);

async function checkInstance(t: Test, kh: TestApp) {
  const { client } = await createClient(kh.clients);
  const { username, password } = await createUser(kh.users);
  const discoveryUrl = `${kh.issuer}/.well-known/openid-configuration`;
  const plain = JSON.parse((await rawRequest(discoveryUrl)).body);
  t.equal(plain.issuer, kh.issuer);
  t.equal(plain.token_endpoint, `${kh.issuer}/token`, 'the endpoints are below the issuer to begin with');

  for (const [name, forged] of FORGERIES) {
    t.test(`a forged ${name}`, async (t) => {
      const discovery = await rawRequest(discoveryUrl, { headers: forged });
      t.equal(discovery.status, 200, 'served, not refused');
      const document = JSON.parse(discovery.body);
      const urls = urlsIn(document);
      t.ok(urls.length >= 8, `discovery publishes its endpoints (${urls.length} URLs)`);
      for (const url of urls) onIssuer(t, kh, url, 'discovery');
      t.same(document, plain, 'discovery is the same document as for the issuer host');
      t.notMatch(discovery.body, EVIL);

      // A sign-in, every request naming the forged host.
      const agent = new RawAgent(forged);
      const auth = new URL(`${kh.issuer}/auth`);
      auth.search = new URLSearchParams(codeRequest(client.id, REDIRECT)).toString();
      const signIn = await agent.follow(auth.href, kh.origin);
      t.equal(signIn.response.status, 200, 'the sign-in page');
      t.ok(agent.locations.length >= 1, 'the authorization request redirected to the sign-in page');
      const actions = actionsIn(signIn.response.body);
      t.equal(actions.length, 2, 'sign in and cancel');
      for (const action of actions) onIssuer(t, kh, action, 'sign-in form');
      const csrf = /name="csrf" value="([^"]+)"/.exec(signIn.response.body)![1]!;
      const done = await agent.follow(actions[0]!, kh.origin, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username, password, csrf }).toString(),
      });
      t.ok(done.url.startsWith(`${REDIRECT}?`), `back at the app: ${done.url}`);
      t.ok(new URL(done.url).searchParams.get('code'), 'with a code');
      for (const location of agent.locations.slice(0, -1)) onIssuer(t, kh, location, 'redirect');

      // The sign-out confirmation (a signed-in session, no hint), then the redirect to the post-logout page.
      const before = agent.locations.length;
      const confirmPage = await agent.send(`${kh.issuer}/session/end`, { headers: { accept: 'text/html' } });
      t.equal(confirmPage.status, 200);
      t.match(confirmPage.body, /Do you want to sign out/);
      const [logoutAction] = actionsIn(confirmPage.body);
      t.equal(logoutAction, `${kh.issuer}/session/end/confirm`, 'the sign-out form posts to the issuer');
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirmPage.body)![1]!;
      const signedOut = await agent.follow(logoutAction!, kh.origin, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
        body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
      });
      t.equal(agent.locations.length, before + 1, 'one redirect');
      t.equal(agent.locations[before], `${kh.issuer}/session/end/success`);
      t.match(signedOut.response.body, /You have been signed out/);

      // Without a session the provider answers with a self-submitting form: it posts to the issuer too.
      const anonymous = await new RawAgent(forged).send(`${kh.issuer}/session/end`, { headers: { accept: 'text/html' } });
      t.equal(anonymous.status, 200);
      t.same(actionsIn(anonymous.body), [`${kh.issuer}/session/end/confirm`]);
    });
  }
}

t.test('a forged host changes no URL', async (t) => {
  t.test('issuer at the root, no proxy trusted', async (t) => checkInstance(t, await startTestApp(t)));
  t.test('issuer at the root, behind a trusted proxy', async (t) => checkInstance(t, await startTestApp(t, { env: { TRUST_PROXY: 'true' } })));
  t.test('issuer with a path, no proxy trusted', async (t) => checkInstance(t, await startTestApp(t, { issuerPath: '/id/keyhold' })));
  t.test('issuer with a path, behind a trusted proxy', async (t) =>
    checkInstance(t, await startTestApp(t, { issuerPath: '/id/keyhold', env: { TRUST_PROXY: 'true' } })));
});

t.test('behind a trusted proxy, the forwarded protocol and client address still count', async (t) => {
  const kh = await startTestApp(t, { env: { TRUST_PROXY: 'true' } });
  const { client } = await createClient(kh.clients);
  const auth = `${kh.issuer}/auth?${new URLSearchParams(codeRequest(client.id, REDIRECT))}`;
  const cookiesOf = async (headers: Record<string, string>) => {
    const response = await rawRequest(auth, { headers });
    t.equal(response.status, 303);
    const set = response.headers['set-cookie'] ?? [];
    t.ok(set.length > 0, 'cookies set');
    return set;
  };
  for (const cookie of await cookiesOf({ 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' })) {
    t.match(cookie, /;\s*secure/i, `X-Forwarded-Proto: https marks cookies Secure: ${cookie.split('=')[0]}`);
  }
  for (const cookie of await cookiesOf({})) t.notMatch(cookie, /;\s*secure/i, 'plain http: not Secure');
  t.match(kh.logs.text, /"ip":"203\.0\.113\.9"/, 'X-Forwarded-For is the client address in the logs');

  const untrusting = await startTestApp(t);
  const { client: other } = await createClient(untrusting.clients);
  const response = await rawRequest(`${untrusting.issuer}/auth?${new URLSearchParams(codeRequest(other.id, REDIRECT))}`, {
    headers: { 'x-forwarded-proto': 'https' },
  });
  for (const cookie of response.headers['set-cookie'] ?? []) t.notMatch(cookie, /;\s*secure/i, 'without TRUST_PROXY the header is ignored');
});

t.test("the admin API's Location never repeats the request's host", async (t) => {
  const kh = await startTestApp(t);
  const { token } = await adminToken(kh);
  const created = await rawRequest(`${kh.origin}/api/v1/users`, {
    method: 'POST',
    // An absolute-form request target names a host of its own.
    target: `http://${EVIL}/api/v1/users`,
    headers: { host: EVIL, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'absolute-form' }),
  });
  t.equal(created.status, 201, created.body);
  const id = JSON.parse(created.body).id;
  t.equal(created.headers.location, `/api/v1/users/${id}`);
});
