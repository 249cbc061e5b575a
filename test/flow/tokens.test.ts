import t from 'tap';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, authorize, decodeJwt, pkce, post, random, userinfo } from '../helpers/flow.ts';

/** The token endpoint, codes and refresh tokens, over plain HTTP. */

const REDIRECT = 'https://app.example.com/callback';

interface Registered {
  id: string;
  secret: string;
}

/** Signs in (once per agent) and returns a fresh code with what is needed to redeem it. */
async function codeFor(kh: TestApp, agent: Agent, client: Registered, creds: { username: string; password: string }, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce();
  const params = {
    client_id: client.id,
    redirect_uri: REDIRECT,
    response_type: 'code id_token',
    response_mode: 'form_post',
    scope: 'openid profile email',
    state: random(),
    nonce: random(),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
  const out = await authorize(agent, kh.issuer, params, creds);
  const code = out.params.get('code');
  if (!code) throw new Error(`no code: ${out.params.toString() || out.html?.slice(0, 400)}`);
  return { code, verifier, params, idToken: out.params.get('id_token') ?? undefined };
}

function redeem(kh: TestApp, client: Registered, code: string, verifier: string, method: 'basic' | 'post' = 'basic') {
  return post(`${kh.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, { clientId: client.id, secret: client.secret, method });
}

function refresh(kh: TestApp, client: Registered, refreshToken: string) {
  return post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { clientId: client.id, secret: client.secret });
}

t.test('token endpoint', async (t) => {
  const kh = await startTestApp(t);
  const creds = await createUser(kh.users);
  const rt = await createClient(kh.clients, { allowRefreshToken: true, accessTokenLifetime: 600 });
  const plain = await createClient(kh.clients, { name: 'No refresh', accessTokenLifetime: 120 });
  const withRefresh: Registered = { id: rt.client.id, secret: rt.secret };
  const noRefresh: Registered = { id: plain.client.id, secret: plain.secret };
  const agent = new Agent();

  t.test('client_secret_basic: tokens, lifetime, c_hash, nonce, no-store', async (t) => {
    const { code, verifier, params, idToken } = await codeFor(kh, agent, withRefresh, creds);
    const front = decodeJwt(idToken!);
    t.type(front.c_hash, 'string', 'the front-channel ID token carries c_hash');
    t.equal(front.nonce, params.nonce);

    const res = await redeem(kh, withRefresh, code, verifier, 'basic');
    t.equal(res.status, 200);
    t.equal(res.headers.get('cache-control'), 'no-store');
    t.equal(res.body.token_type, 'Bearer');
    t.equal(res.body.expires_in, 600, "expires_in is the client's access token lifetime");
    t.notOk(res.body.refresh_token, 'no refresh token without offline_access');
    const claims = decodeJwt(String(res.body.id_token));
    t.equal(claims.nonce, params.nonce, 'the ID token from the token endpoint carries the nonce');
    t.equal(claims.sub, front.sub);
    t.equal(claims.aud, withRefresh.id);
  });

  t.test('client_secret_post, and a short lifetime', async (t) => {
    const { code, verifier } = await codeFor(kh, agent, noRefresh, creds);
    const res = await redeem(kh, noRefresh, code, verifier, 'post');
    t.equal(res.status, 200);
    t.equal(res.body.expires_in, 120);
    t.equal(res.headers.get('cache-control'), 'no-store');
  });

  t.test('wrong secret, wrong client, wrong redirect URL, wrong verifier', async (t) => {
    const { code, verifier } = await codeFor(kh, agent, withRefresh, creds);
    const wrongSecret = await redeem(kh, { ...withRefresh, secret: 'nope' }, code, verifier);
    t.equal(wrongSecret.status, 401);
    t.equal(wrongSecret.body.error, 'invalid_client');
    t.equal(wrongSecret.headers.get('cache-control'), 'no-store', 'errors are not cached either');
    const wrongClient = await redeem(kh, noRefresh, code, verifier);
    t.equal(wrongClient.body.error, 'invalid_grant', "another client cannot redeem the code");
    const wrongVerifier = await redeem(kh, withRefresh, code, pkce().verifier);
    t.equal(wrongVerifier.body.error, 'invalid_grant');
    const wrongRedirect = await post(
      `${kh.issuer}/token`,
      { grant_type: 'authorization_code', code, redirect_uri: 'https://app.example.com/other', code_verifier: verifier },
      { clientId: withRefresh.id, secret: withRefresh.secret },
    );
    t.equal(wrongRedirect.body.error, 'invalid_grant');
  });

  t.test('a code works once; its replay fails and revokes what it produced', async (t) => {
    const { code, verifier } = await codeFor(kh, agent, withRefresh, creds, { scope: 'openid offline_access' });
    const first = await redeem(kh, withRefresh, code, verifier);
    t.equal(first.status, 200);
    t.ok(first.body.refresh_token);
    t.equal((await userinfo(kh.issuer, String(first.body.access_token))).status, 200);

    const replay = await redeem(kh, withRefresh, code, verifier);
    t.equal(replay.status, 400);
    t.equal(replay.body.error, 'invalid_grant');
    t.equal((await userinfo(kh.issuer, String(first.body.access_token))).status, 401, 'the access token is revoked');
    const r = await refresh(kh, withRefresh, String(first.body.refresh_token));
    t.equal(r.body.error, 'invalid_grant', 'the refresh token is revoked');
  });

  t.test('refresh tokens: offline_access on a client that allows them, no prompt=consent needed', async (t) => {
    const { code, verifier } = await codeFor(kh, agent, withRefresh, creds, { scope: 'openid email offline_access' });
    const res = await redeem(kh, withRefresh, code, verifier);
    t.equal(res.status, 200);
    t.type(res.body.refresh_token, 'string');
    t.same(String(res.body.scope).split(' ').sort(), ['email', 'offline_access', 'openid']);

    // Every refresh rotates and keeps the lifetime.
    const r1 = await refresh(kh, withRefresh, String(res.body.refresh_token));
    t.equal(r1.status, 200);
    t.equal(r1.headers.get('cache-control'), 'no-store');
    t.equal(r1.body.expires_in, 600, 'expires_in after a refresh is the lifetime too');
    t.type(r1.body.refresh_token, 'string');
    t.not(r1.body.refresh_token, res.body.refresh_token, 'the refresh token rotates');
    t.type(r1.body.id_token, 'string');
    const r2 = await refresh(kh, withRefresh, String(r1.body.refresh_token));
    t.equal(r2.status, 200);
    t.not(r2.body.refresh_token, r1.body.refresh_token);
    t.equal((await userinfo(kh.issuer, String(r2.body.access_token))).status, 200);

    // Replaying a used one revokes the whole grant.
    const replay = await refresh(kh, withRefresh, String(r1.body.refresh_token));
    t.equal(replay.status, 400);
    t.equal(replay.body.error, 'invalid_grant');
    const after = await refresh(kh, withRefresh, String(r2.body.refresh_token));
    t.equal(after.body.error, 'invalid_grant', 'the newest refresh token is revoked too');
    t.equal((await userinfo(kh.issuer, String(r2.body.access_token))).status, 401, 'and the newest access token');
  });

  t.test('no refresh token when the client does not allow them', async (t) => {
    const { code, verifier } = await codeFor(kh, agent, noRefresh, creds, { scope: 'openid offline_access' });
    const res = await redeem(kh, noRefresh, code, verifier);
    t.equal(res.status, 200);
    t.notOk(res.body.refresh_token);
    t.notOk(String(res.body.scope).includes('offline_access'));
  });

  t.test('offline_access with prompt=login still shows the sign-in page, then gives a refresh token', async (t) => {
    const { verifier, challenge } = pkce();
    const params = {
      client_id: withRefresh.id,
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid offline_access',
      state: random(),
      prompt: 'login',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    };
    const page = await authorize(agent, kh.issuer, params);
    t.equal(page.via, 'page', 'signed in already, but prompt=login asks again');
    t.match(page.html, /<h1>Sign in<\/h1>/);
    const out = await authorize(agent, kh.issuer, params, creds);
    t.equal(out.params.get('state'), params.state);
    const res = await redeem(kh, withRefresh, out.params.get('code')!, verifier);
    t.type(res.body.refresh_token, 'string');
    t.match(String(res.body.scope), /offline_access/);
  });

  t.test('offline_access through a POSTed authorization request', async (t) => {
    const { verifier, challenge } = pkce();
    const out = await authorize(
      agent,
      kh.issuer,
      { client_id: withRefresh.id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid offline_access', state: random(), code_challenge: challenge, code_challenge_method: 'S256' },
      { method: 'POST' },
    );
    const res = await redeem(kh, withRefresh, out.params.get('code')!, verifier);
    t.type(res.body.refresh_token, 'string', 'POST /auth keeps offline_access');
  });

  t.test('offline_access through a pushed authorization request', async (t) => {
    const { verifier, challenge } = pkce();
    const pushed = await post(
      `${kh.issuer}/request`,
      { client_id: withRefresh.id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid offline_access', state: random(), code_challenge: challenge, code_challenge_method: 'S256' },
      { clientId: withRefresh.id, secret: withRefresh.secret },
    );
    t.equal(pushed.status, 201);
    const out = await authorize(agent, kh.issuer, { client_id: withRefresh.id, request_uri: String(pushed.body.request_uri) });
    const res = await redeem(kh, withRefresh, out.params.get('code')!, verifier);
    t.type(res.body.refresh_token, 'string', 'PAR keeps offline_access');
  });

  t.test('offline_access with prompt=none: a silent sign-in, without a refresh token', async (t) => {
    const { verifier, challenge } = pkce();
    const state = random();
    const out = await authorize(agent, kh.issuer, {
      client_id: withRefresh.id,
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid offline_access',
      state,
      prompt: 'none',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    t.equal(out.params.get('state'), state);
    const res = await redeem(kh, withRefresh, out.params.get('code')!, verifier);
    t.equal(res.status, 200);
    t.notOk(res.body.refresh_token);
  });

  t.test('turning allowRefreshToken off makes existing refresh tokens fail on their next use', async (t) => {
    const other = await createClient(kh.clients, { name: 'Toggled', allowRefreshToken: true });
    const client: Registered = { id: other.client.id, secret: other.secret };
    const { code, verifier } = await codeFor(kh, agent, client, creds, { scope: 'openid offline_access' });
    const res = await redeem(kh, client, code, verifier);
    const token = String(res.body.refresh_token);
    t.ok(token);
    const introspect = () => post(`${kh.issuer}/token/introspection`, { token }, { clientId: client.id, secret: client.secret }).then((r) => r.body.active);
    t.equal(await introspect(), true);

    await kh.clients.update(client.id, { allowRefreshToken: false });
    t.equal(await introspect(), false, 'introspection reports it inactive');
    const refused = await refresh(kh, client, token);
    t.equal(refused.status, 400);
    // unauthorized_client once the instance knows of the change; in the moment before the change's
    // notification arrives, the token is already gone (ended in the same transaction): invalid_grant.
    t.ok(['unauthorized_client', 'invalid_grant'].includes(String(refused.body.error)), `refused (${String(refused.body.error)})`);
    await new Promise((r) => setTimeout(r, 200));
    t.equal((await refresh(kh, client, token)).body.error, 'unauthorized_client', 'then unauthorized_client: the client no longer allows refresh tokens');

    await kh.clients.update(client.id, { allowRefreshToken: true });
    // What is tested is the token, not how soon the instance hears of the change: let it arrive.
    await new Promise((r) => setTimeout(r, 200));
    const still = await refresh(kh, client, token);
    t.equal(still.body.error, 'invalid_grant', 'turning it back on does not revive the token');
  });
});
