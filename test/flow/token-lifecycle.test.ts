import t from 'tap';
import { adminToken } from '../helpers/admin.ts';
import { startTestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, authorize, post, random, signInForTokens, userinfo } from '../helpers/flow.ts';

/** Userinfo, revocation, introspection, and tokens outliving their client or user. */

const REDIRECT = 'https://app.example.com/callback';

const signIn = signInForTokens;

t.test('userinfo, revocation, introspection', async (t) => {
  const kh = await startTestApp(t);
  const creds = await createUser(kh.users);
  const app = await createClient(kh.clients, { allowRefreshToken: true });
  const api = await createClient(kh.clients, { type: 'client-credentials', name: 'Resource server', roles: ['resource-server'], redirectUris: [], postLogoutRedirectUris: [] });
  const client = { id: app.client.id, secret: app.secret };
  const resourceServer = { clientId: api.client.id, secret: api.secret };
  const introspect = (token: string, auth: { clientId: string; secret: string; method?: 'basic' | 'post' } = resourceServer) => post(`${kh.issuer}/token/introspection`, { token }, auth);

  t.test('userinfo gives the profile and email claims that were asked for', async (t) => {
    const { accessToken } = await signIn(kh, client, creds);
    const me = await userinfo(kh.issuer, accessToken);
    t.equal(me.status, 200);
    t.equal(me.headers.get('cache-control'), 'no-store');
    t.match(me.body, {
      sub: String,
      preferred_username: creds.username,
      name: 'Test User',
      email: `${creds.username}@example.com`,
      email_verified: false,
    });
    const openidOnly = await signIn(kh, client, creds, 'openid');
    const bare = await userinfo(kh.issuer, openidOnly.accessToken);
    t.same(Object.keys(bare.body), ['sub'], 'only sub without profile and email');
    t.equal((await userinfo(kh.issuer, 'not-a-token')).status, 401);
  });

  t.test('introspection is client-authenticated', async (t) => {
    const { accessToken, refreshToken } = await signIn(kh, client, creds);
    const unauthenticated = await post(`${kh.issuer}/token/introspection`, { token: accessToken });
    t.equal(unauthenticated.status, 400, 'no client authentication: refused');
    t.equal(unauthenticated.body.error, 'invalid_request');
    t.notOk(unauthenticated.body.active);
    const wrong = await introspect(accessToken, { ...resourceServer, secret: 'nope' });
    t.equal(wrong.status, 401);

    const at = await introspect(accessToken);
    t.equal(at.status, 200);
    t.equal(at.headers.get('cache-control'), 'no-store');
    t.match(at.body, { active: true, client_id: client.id, token_type: 'Bearer', scope: /openid/ });
    t.equal((await introspect(refreshToken, { clientId: client.id, secret: client.secret, method: 'post' })).body.active, true);
    t.same((await introspect('garbage')).body, { active: false });
  });

  t.test('revocation', async (t) => {
    const { accessToken, refreshToken } = await signIn(kh, client, creds);
    const auth = { clientId: client.id, secret: client.secret };
    const unauthenticated = await post(`${kh.issuer}/token/revocation`, { token: accessToken });
    t.equal(unauthenticated.status, 400, 'no client authentication: refused');
    const byOther = await post(`${kh.issuer}/token/revocation`, { token: accessToken }, resourceServer);
    t.equal(byOther.status, 400, "another client cannot revoke the app's token");
    t.equal((await userinfo(kh.issuer, accessToken)).status, 200);

    t.equal((await post(`${kh.issuer}/token/revocation`, { token: accessToken, token_type_hint: 'access_token' }, auth)).status, 200);
    t.equal((await userinfo(kh.issuer, accessToken)).status, 401, 'a revoked access token fails');
    t.equal((await introspect(accessToken)).body.active, false);

    t.equal((await post(`${kh.issuer}/token/revocation`, { token: refreshToken }, auth)).status, 200);
    const r = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, auth);
    t.equal(r.body.error, 'invalid_grant', 'a revoked refresh token fails');
    t.equal((await post(`${kh.issuer}/token/revocation`, { token: 'unknown' }, auth)).status, 200, 'unknown tokens revoke quietly (RFC 7009)');
  });

  for (const change of ['disabled', 'deleted'] as const) {
    t.test(`a ${change} user: tokens stop working on next use`, async (t) => {
      const other = await createUser(kh.users);
      const { accessToken, refreshToken } = await signIn(kh, client, other);
      t.equal((await userinfo(kh.issuer, accessToken)).status, 200);
      if (change === 'disabled') await kh.users.update(other.user.id, { disabled: true });
      else await kh.users.delete(other.user.id);
      t.equal((await userinfo(kh.issuer, accessToken)).status, 401, 'userinfo refuses');
      t.equal((await introspect(accessToken)).body.active, false, 'introspection: access token inactive');
      t.equal((await introspect(refreshToken)).body.active, false, 'introspection: refresh token inactive');
      const r = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { clientId: client.id, secret: client.secret });
      t.equal(r.status, 400);
      t.equal(r.body.error, 'invalid_grant', 'refresh refuses');
      const again = await authorize(new Agent(), kh.issuer, { client_id: client.id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state: random() }, other);
      t.equal(again.via, 'page', 'and the user cannot sign in again');
      t.match(again.html, /Incorrect username or password/, 'sent back to the sign-in page');
    });
  }

  t.test('a user disabled through the admin API loses sessions, grants and tokens for good', async (t) => {
    const { api } = await adminToken(kh);
    const other = await createUser(kh.users);
    const agent = new Agent();
    const { accessToken, refreshToken } = await signIn(kh, client, other, undefined, agent);
    const silent = () =>
      authorize(agent, kh.issuer, { client_id: client.id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state: random(), prompt: 'none' });
    t.ok((await silent()).params.get('code'), 'while enabled, the browser session signs in silently');
    const rows = async () => (await kh.db.pool.query('SELECT count(*)::int AS n FROM oidc_payloads WHERE account_id = $1', [other.user.id])).rows[0].n;
    t.ok((await rows()) > 0);

    t.equal((await api('PATCH', `/users/${other.user.id}`, { disabled: true })).status, 200);
    t.equal(await rows(), 0, 'every session, grant, code and token of theirs is gone');
    t.equal((await api('PATCH', `/users/${other.user.id}`, { disabled: false })).status, 200, 'enabled again');

    t.equal((await userinfo(kh.issuer, accessToken)).status, 401, 'userinfo refuses the old access token');
    t.equal((await introspect(accessToken)).body.active, false, 'introspection: the old access token is inactive');
    t.equal((await introspect(refreshToken)).body.active, false, 'introspection: the old refresh token is inactive');
    const r = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { clientId: client.id, secret: client.secret });
    t.equal(r.status, 400);
    t.equal(r.body.error, 'invalid_grant', 'the old refresh token is refused');
    t.equal((await silent()).params.get('error'), 'login_required', 'the old browser session is gone');
    const fresh = await signIn(kh, client, other);
    t.equal((await userinfo(kh.issuer, fresh.accessToken)).status, 200, 'signing in again works');
  });

  for (const change of ['disabled', 'deleted'] as const) {
    t.test(`a ${change} client: tokens stop working on next use`, async (t) => {
      const doomed = await createClient(kh.clients, { name: `To be ${change}`, allowRefreshToken: true });
      const c = { id: doomed.client.id, secret: doomed.secret };
      const { accessToken, refreshToken } = await signIn(kh, c, creds);
      t.equal((await userinfo(kh.issuer, accessToken)).status, 200);
      t.equal((await introspect(accessToken)).body.active, true);
      if (change === 'disabled') await kh.clients.update(c.id, { enabled: false });
      else await kh.clients.delete(c.id);
      t.equal((await userinfo(kh.issuer, accessToken)).status, 401, 'userinfo refuses');
      t.equal((await introspect(accessToken)).body.active, false, 'introspection: access token inactive');
      t.equal((await introspect(refreshToken)).body.active, false, 'introspection: refresh token inactive');
      const r = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { clientId: c.id, secret: c.secret });
      t.equal(r.status, 401);
      t.equal(r.body.error, 'invalid_client', 'the client can no longer get tokens');
    });
  }
});
