import t from 'tap';
import { adminToken, adminUserToken, apiFor, clientCredentials, consoleToken } from '../helpers/admin.ts';
import { startTestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, authorize, pkce, post, random } from '../helpers/flow.ts';

t.test('no token, a bad token, a token that is not a bearer: 401 with a Bearer challenge', async (t) => {
  const kh = await startTestApp(t);
  const none = await apiFor(kh, undefined)('GET', '/clients');
  t.equal(none.status, 401);
  t.equal(none.headers.get('www-authenticate'), 'Bearer realm="keyhold"');
  t.match(none.headers.get('content-type'), /^application\/problem\+json/);
  t.match(none.body, { type: 'https://keyhold.dev/problems/unauthorized', status: 401, title: String, detail: /Bearer/ });

  for (const authorization of ['Bearer nonsense', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearer a b', 'bearer']) {
    const answer = await apiFor(kh, undefined)('GET', '/users', undefined, { headers: { authorization } });
    t.equal(answer.status, 401, `${JSON.stringify(authorization)}: 401`);
    t.match(answer.headers.get('www-authenticate'), /^Bearer realm="keyhold"/);
  }
  const writes = await apiFor(kh, undefined)('POST', '/clients', undefined, { raw: '{not json' });
  t.equal(writes.status, 401, 'an unauthenticated write is refused before its body is read');
  t.equal((await apiFor(kh, undefined)('GET', '/no-such-thing')).status, 401, 'unknown paths need a token too');
  t.equal((await apiFor(kh, 'x')('DELETE', '/clients/00000000-0000-4000-8000-000000000000')).status, 401);
});

t.test('automation: a client-credentials client with role admin asking for scope admin', async (t) => {
  const kh = await startTestApp(t);
  const { api, token } = await adminToken(kh);
  t.equal((await api('GET', '/clients')).status, 200, 'admin client with scope admin: allowed');
  t.equal((await api('GET', '/users')).status, 200);

  const { client: plain, secret: plainSecret } = await createClient(kh.clients, { type: 'client-credentials', name: 'Plain', redirectUris: [], postLogoutRedirectUris: [] });
  const refused = await clientCredentials(kh, plain.id, plainSecret, 'admin');
  t.equal(refused.status, 400, 'a client without the admin role cannot get the admin scope');
  t.equal(refused.body.error, 'invalid_scope');
  const plainToken = await clientCredentials(kh, plain.id, plainSecret, '');
  t.equal(plainToken.status, 200, 'it can get a token without it');
  const forbidden = await apiFor(kh, plainToken.body.access_token as string)('GET', '/clients');
  t.equal(forbidden.status, 403, 'which the admin API refuses');
  t.match(forbidden.headers.get('www-authenticate'), /error="insufficient_scope", scope="admin"/);
  t.match(forbidden.body, { type: 'https://keyhold.dev/problems/forbidden', status: 403, detail: /admin role/ });

  const { client: admin, secret: adminSecret } = await createClient(kh.clients, { type: 'client-credentials', name: 'Admin', roles: ['admin'], redirectUris: [], postLogoutRedirectUris: [] });
  const noScope = await clientCredentials(kh, admin.id, adminSecret, '');
  t.equal(noScope.status, 200);
  const noScopeAnswer = await apiFor(kh, noScope.body.access_token as string)('GET', '/clients');
  t.equal(noScopeAnswer.status, 403, 'an admin client’s token without scope admin is not enough');
  t.match(noScopeAnswer.body.detail, /scope/);

  // An expired token: the stored row says so.
  await kh.db.pool.query("UPDATE oidc_payloads SET expires_at = now() - interval '1 second' WHERE id = keyhold_digest($1)", [token]);
  t.equal((await api('GET', '/clients')).status, 401, 'an expired token: 401');
  t.notMatch(kh.logs.text, token, 'tokens never reach the logs');
  t.notMatch(kh.logs.text, adminSecret);
});

t.test('people: an admin user signed in through the console', async (t) => {
  const kh = await startTestApp(t);
  const { user, token, api } = await adminUserToken(kh);
  t.equal((await api('GET', '/clients')).status, 200, 'an admin user: allowed');
  const created = await api('POST', '/clients', { type: 'hybrid', name: 'Made by a person', redirectUris: ['https://app.example.com/cb'] });
  t.equal(created.status, 201);

  const { username, password } = await createUser(kh.users);
  const ordinary = await consoleToken(kh, username, password);
  t.notMatch(ordinary.scope, /\badmin\b/, 'a user without the role is not granted the admin scope');
  t.equal((await apiFor(kh, ordinary.token)('GET', '/clients')).status, 403, 'and is forbidden');

  // An admin user signing in to some other app asking for scope admin: the scope is dropped.
  const admin2 = await createUser(kh.users, { roles: ['admin'] });
  const { client, secret } = await createClient(kh.clients);
  const { verifier, challenge } = pkce();
  const outcome = await authorize(
    new Agent(),
    kh.issuer,
    { client_id: client.id, response_type: 'code', redirect_uri: 'https://app.example.com/callback', scope: 'openid admin', state: random(), nonce: random(), code_challenge: challenge, code_challenge_method: 'S256' },
    { username: admin2.username, password: admin2.password },
  );
  const tokens = await post(
    `${kh.issuer}/token`,
    { grant_type: 'authorization_code', code: outcome.params.get('code')!, redirect_uri: 'https://app.example.com/callback', code_verifier: verifier },
    { clientId: client.id, secret },
  );
  t.equal(tokens.status, 200);
  t.equal((await apiFor(kh, tokens.body.access_token as string)('GET', '/clients')).status, 403, 'an app’s token is never an admin token');

  const idToken = tokens.body.id_token as string;
  t.equal((await apiFor(kh, idToken)('GET', '/clients')).status, 401, 'an ID token is not an access token');

  // Taking the role away, disabling, deleting: in force on the next request.
  await kh.users.update(user.id, { roles: [] });
  t.equal((await api('GET', '/clients')).status, 403, 'the role taken away: 403');
  await kh.users.update(user.id, { roles: ['admin'], disabled: true });
  t.equal((await api('GET', '/clients')).status, 401, 'disabled: 401');
  await kh.users.update(user.id, { disabled: false });
  t.equal((await api('GET', '/clients')).status, 200, 'enabled again: 200');
  const other = await adminUserToken(kh);
  t.equal((await other.api('DELETE', `/users/${user.id}`)).status, 204);
  t.equal((await api('GET', '/clients')).status, 401, 'deleted: 401');
  t.notMatch(kh.logs.text, token);
  t.notMatch(kh.logs.text, password, 'passwords never reach the logs');
});
