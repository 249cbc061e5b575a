import t from 'tap';
import { adminToken, apiFor, clientCredentials } from '../helpers/admin.ts';
import { startTestApp } from '../helpers/app.ts';
import { Agent, authorize, codeRequest, post } from '../helpers/flow.ts';
import { createUser } from '../helpers/fixtures.ts';

/** Two Keyhold instances on one database: a change made through one is in force on the other's next request. */
t.test('a change through one instance is seen by another on its next request', async (t) => {
  const a = await startTestApp(t);
  const b = await startTestApp(t, { db: a.db });
  const { api: apiA, token } = await adminToken(a);
  const apiB = apiFor(b, token);
  t.equal((await apiB('GET', '/clients')).status, 200, 'a token from instance A works on instance B');

  const { client, secret } = (await apiA('POST', '/clients', { type: 'hybrid', name: 'Shared', redirectUris: ['https://app.example.com/cb'] })).body;
  t.same((await apiB('GET', `/clients/${client.id}`)).body.name, 'Shared', 'B reads what A created');

  // B verifies (and caches) the secret; A deletes it; B's very next token request fails.
  const introspect = (app: typeof a, value: string) => post(`${app.issuer}/token/introspection`, { token: 'x' }, { clientId: client.id, secret: value });
  t.equal((await introspect(b, secret.value)).status, 200);
  t.equal((await introspect(b, secret.value)).status, 200, 'verified twice on B (the second from its cache)');
  const second = (await apiA('POST', `/clients/${client.id}/secrets`, { description: 'rotation' })).body;
  t.equal((await apiA('DELETE', `/clients/${client.id}/secrets/${secret.id}`)).status, 204);
  // Introspecting an unknown token stores and reads nothing of the client's, so no version check can
  // tell B its copy is stale: B refuses the deleted secret once the change notification arrives
  // (milliseconds; requests that store or read a token are refused before it, see stale-client.test.ts).
  const deadline = Date.now() + 2_000;
  let refused = (await introspect(b, secret.value)).status;
  while (refused !== 401 && Date.now() < deadline) refused = (await introspect(b, secret.value)).status;
  t.equal(refused, 401, 'the secret deleted on A fails on B as soon as B hears of it');
  t.equal((await introspect(b, second.value)).status, 200, 'the new one works on B');

  // Redirect URLs changed on A are what B's authorization endpoint accepts next.
  t.equal((await apiA('PATCH', `/clients/${client.id}`, { redirectUris: ['https://app.example.com/new-cb'] })).status, 200);
  const { username, password } = await createUser(b.users);
  const params = (redirectUri: string) => codeRequest(client.id, redirectUri);
  const old = await authorize(new Agent(), b.issuer, params('https://app.example.com/cb'));
  t.equal(old.via, 'page', 'the old URL is refused on B');
  t.match(old.html, /redirect_uri/);
  const fresh = await authorize(new Agent(), b.issuer, params('https://app.example.com/new-cb'), { username, password });
  t.equal(fresh.target, 'https://app.example.com/new-cb', 'the new URL works on B');
  t.ok(fresh.params.get('code'));

  // Disabling on B stops the client on A.
  t.equal((await apiB('PATCH', `/clients/${client.id}`, { enabled: false })).status, 200);
  t.equal((await introspect(a, second.value)).status, 401, 'disabled on B: refused on A');

  // An admin client's role taken away on A is in force on B.
  const robot = (await apiA('POST', '/clients', { type: 'client-credentials', name: 'Robot', roles: ['admin'] })).body;
  const robotToken = (await clientCredentials(b, robot.client.id, robot.secret.value)).body.access_token as string;
  t.equal((await apiFor(b, robotToken)('GET', '/clients')).status, 200);
  t.equal((await apiA('PATCH', `/clients/${robot.client.id}`, { roles: [] })).status, 200);
  t.equal((await apiFor(b, robotToken)('GET', '/clients')).status, 403, 'the role taken away on A: forbidden on B');
  t.equal((await apiA('DELETE', `/clients/${robot.client.id}`)).status, 204);
  t.equal((await apiFor(b, robotToken)('GET', '/clients')).status, 401, 'deleted on A: its token fails on B');
  for (const app of [a, b]) {
    for (const value of [secret.value, second.value, robot.secret.value]) t.notMatch(app.logs.text, value, 'no secret in either log');
  }
});
