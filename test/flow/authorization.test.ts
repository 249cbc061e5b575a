import t from 'tap';
import { startTestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, authorize, decodeJwt, pkce, random } from '../helpers/flow.ts';
import { snapshot, unchanged } from '../helpers/fuzz.ts';

/** The authorization endpoint for hybrid clients, over plain HTTP. */

t.test('authorization endpoint', async (t) => {
  const kh = await startTestApp(t);
  const { username, password } = await createUser(kh.users);
  const web = (await createClient(kh.clients, { redirectUris: ['https://app.example.com/callback', 'https://app.example.com/other'] })).client;
  const native = (
    await createClient(kh.clients, {
      name: 'Native app',
      redirectUris: ['http://127.0.0.1:8123/callback', 'com.example.app:/callback'],
    })
  ).client;
  const disabled = (await createClient(kh.clients, { name: 'Disabled app', enabled: false })).client;

  const agent = new Agent();
  const base = (extra: Record<string, string> = {}) => ({
    client_id: web.id,
    redirect_uri: 'https://app.example.com/callback',
    scope: 'openid profile',
    state: random(),
    nonce: random(),
    ...extra,
  });

  t.test('discovery publishes exactly the hybrid surface', async (t) => {
    const d = await (await fetch(`${kh.issuer}/.well-known/openid-configuration`)).json();
    t.same(d.response_types_supported, ['code id_token', 'code'], 'no token response types');
    t.same([...d.response_modes_supported].sort(), ['form_post', 'fragment', 'query']);
    t.same(d.code_challenge_methods_supported, ['S256'], 'PKCE S256 only');
    t.ok(d.token_endpoint_auth_methods_supported.includes('client_secret_basic'));
    t.ok(d.token_endpoint_auth_methods_supported.includes('client_secret_post'));
    for (const endpoint of ['userinfo_endpoint', 'end_session_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'jwks_uri']) {
      t.ok(d[endpoint], `${endpoint} is published`);
    }
  });

  t.test('code, query by default; the first sign-in shows the page', async (t) => {
    const params = base({ response_type: 'code' });
    const out = await authorize(agent, kh.issuer, params, { username, password });
    t.equal(out.via, 'query');
    t.equal(out.target, 'https://app.example.com/callback');
    t.ok(out.params.get('code'));
    t.equal(out.params.get('state'), params.state);
    t.equal(out.params.get('iss'), kh.issuer);
    t.notOk(out.params.get('id_token'), 'no ID token from the authorization endpoint for code');
  });

  t.test('code id_token, fragment by default, with c_hash and nonce', async (t) => {
    const params = base({ response_type: 'code id_token' });
    const out = await authorize(agent, kh.issuer, params);
    t.equal(out.via, 'fragment');
    t.equal(out.params.get('state'), params.state);
    const code = out.params.get('code');
    const idToken = out.params.get('id_token');
    t.ok(code);
    t.ok(idToken);
    const claims = decodeJwt(idToken!);
    t.equal(claims.nonce, params.nonce);
    t.type(claims.c_hash, 'string', 'the ID token binds the code');
    t.equal(claims.aud, web.id);
    t.equal(claims.iss, kh.issuer);
    t.notOk(out.params.get('access_token'), 'no access token through the browser');
  });

  for (const [responseType, mode] of [
    ['code id_token', 'form_post'],
    ['code', 'form_post'],
    ['code', 'fragment'],
    ['code', 'query'],
    ['code id_token', 'fragment'],
  ] as const) {
    t.test(`${responseType} with response_mode=${mode}`, async (t) => {
      const params = base({ response_type: responseType, response_mode: mode });
      const out = await authorize(agent, kh.issuer, params);
      t.equal(out.via, mode);
      t.equal(out.target, 'https://app.example.com/callback');
      t.ok(out.params.get('code'));
      t.equal(out.params.get('state'), params.state);
      t.equal(Boolean(out.params.get('id_token')), responseType === 'code id_token');
    });
  }

  t.test('code id_token may not use response_mode=query', async (t) => {
    const params = base({ response_type: 'code id_token', response_mode: 'query' });
    const out = await authorize(agent, kh.issuer, params);
    t.equal(out.params.get('error'), 'invalid_request');
    t.equal(out.params.get('state'), params.state);
    t.notOk(out.params.get('code'), 'no code');
    t.notOk(out.params.get('id_token'), 'no ID token in a query');
  });

  t.test('nonce is required when the ID token comes from the authorization endpoint', async (t) => {
    const { nonce: _nonce, ...params } = base({ response_type: 'code id_token' });
    const out = await authorize(agent, kh.issuer, params);
    t.equal(out.target, 'https://app.example.com/callback', 'a later error goes back to the app');
    t.equal(out.params.get('error'), 'invalid_request');
    t.match(out.params.get('error_description'), /nonce/);
    t.equal(out.params.get('state'), params.state);
    t.notOk(out.params.get('code'));

    const { nonce: _n, ...codeOnly } = base({ response_type: 'code' });
    const ok = await authorize(agent, kh.issuer, codeOnly);
    t.ok(ok.params.get('code'), 'code alone needs no nonce');
  });

  for (const responseType of ['token', 'id_token', 'code token', 'code id_token token', 'none']) {
    t.test(`response_type=${responseType} is refused at the app`, async (t) => {
      const params = base({ response_type: responseType });
      const out = await authorize(agent, kh.issuer, params);
      t.equal(out.params.get('error'), 'unsupported_response_type');
      t.equal(out.params.get('state'), params.state);
      t.notOk(out.params.get('access_token'));
      t.notOk(out.params.get('code'));
    });
  }

  t.test('PKCE: S256 works for a web client; plain is refused', async (t) => {
    const { challenge } = pkce();
    const ok = await authorize(agent, kh.issuer, base({ response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256' }));
    t.ok(ok.params.get('code'));
    const params = base({ response_type: 'code', code_challenge: challenge, code_challenge_method: 'plain' });
    const plain = await authorize(agent, kh.issuer, params);
    t.equal(plain.params.get('error'), 'invalid_request');
    t.equal(plain.params.get('state'), params.state);
    t.notOk(plain.params.get('code'));
  });

  t.test('native clients must use PKCE, secret or not', async (t) => {
    const params = { ...base({ response_type: 'code' }), client_id: native.id, redirect_uri: 'http://127.0.0.1:8123/callback' };
    const without = await authorize(agent, kh.issuer, params);
    t.equal(without.target, 'http://127.0.0.1:8123/callback');
    t.equal(without.params.get('error'), 'invalid_request');
    t.match(without.params.get('error_description'), /PKCE/);
    t.equal(without.params.get('state'), params.state);
    t.notOk(without.params.get('code'));

    const { challenge } = pkce();
    const plain = await authorize(agent, kh.issuer, { ...params, code_challenge: challenge, code_challenge_method: 'plain' });
    t.equal(plain.params.get('error'), 'invalid_request', 'plain is refused');

    const withPkce = await authorize(agent, kh.issuer, { ...params, code_challenge: challenge, code_challenge_method: 'S256' });
    t.ok(withPkce.params.get('code'), 'S256 works');

    const privateUse = await authorize(agent, kh.issuer, {
      ...params,
      redirect_uri: 'com.example.app:/callback',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    t.equal(privateUse.target, 'com.example.app:/callback');
    t.ok(privateUse.params.get('code'), 'a private-use redirect URL works');
  });

  t.test('a loopback redirect URL may change its port, nothing else', async (t) => {
    const { challenge } = pkce();
    const params = {
      ...base({ response_type: 'code' }),
      client_id: native.id,
      redirect_uri: 'http://127.0.0.1:49152/callback',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    };
    const otherPort = await authorize(agent, kh.issuer, params);
    t.equal(otherPort.target, 'http://127.0.0.1:49152/callback');
    t.ok(otherPort.params.get('code'));

    for (const uri of ['http://127.0.0.1:8123/other', 'http://localhost:8123/callback', 'http://127.0.0.1:8123/callback?x=1', 'com.example.app:/other']) {
      const out = await authorize(agent, kh.issuer, { ...params, redirect_uri: uri });
      t.equal(out.via, 'page', `${uri} is not registered: no redirect`);
      t.equal(out.status, 400);
    }
  });

  t.test('an https://localhost redirect URL works for a (web) hybrid client', async (t) => {
    const local = (await createClient(kh.clients, { name: 'Local https', redirectUris: ['https://localhost:8443/callback'], postLogoutRedirectUris: [] })).client;
    for (const responseType of ['code', 'code id_token']) {
      const params = { ...base({ response_type: responseType }), client_id: local.id, redirect_uri: 'https://localhost:8443/callback' };
      const out = await authorize(agent, kh.issuer, params);
      t.equal(out.target, 'https://localhost:8443/callback');
      t.ok(out.params.get('code'), `${responseType}: a code`);
    }
  });

  t.test('errors before the redirect URL is validated render a 400 page and never redirect', async (t) => {
    const cases: Array<[string, Record<string, string>]> = [
      ['unknown client', { client_id: '00000000-0000-4000-8000-000000000000' }],
      ['malformed client id', { client_id: 'nope' }],
      ['disabled client', { client_id: disabled.id }],
      ['unregistered redirect URL', { redirect_uri: 'https://evil.example.com/callback' }],
      ['redirect URL with a query added', { redirect_uri: 'https://app.example.com/callback?next=/' }],
      ['redirect URL with a trailing slash', { redirect_uri: 'https://app.example.com/callback/' }],
      ['redirect URL with another case', { redirect_uri: 'https://app.example.com/Callback' }],
      ['redirect URL with a fragment', { redirect_uri: 'https://app.example.com/callback#x' }],
      ['http instead of https', { redirect_uri: 'http://app.example.com/callback' }],
      ['missing redirect URL', { redirect_uri: '' }],
      ['unregistered URL and a bad response type', { redirect_uri: 'https://evil.example.com/', response_type: 'token' }],
    ];
    for (const [name, override] of cases) {
      const params: Record<string, string> = { ...base({ response_type: 'code' }), ...override };
      if (params.redirect_uri === '') delete params.redirect_uri;
      const response = await agent.fetch(`${kh.issuer}/auth?${new URLSearchParams(params)}`);
      t.equal(response.status, 400, `${name}: 400`);
      t.notOk(response.headers.get('location'), `${name}: no redirect`);
      t.match(response.headers.get('content-type'), /text\/html/, `${name}: an HTML page`);
      const html = await response.text();
      t.match(html, /Sign-in could not continue/, `${name}: Keyhold's error page`);
      t.notMatch(html, /evil\.example\.com/, `${name}: the page offers no link to the bad URL`);
    }
    const missingClient = await agent.fetch(`${kh.issuer}/auth?response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback`);
    t.equal(missingClient.status, 400, 'no client_id: 400');
    t.notOk(missingClient.headers.get('location'));
  });

  t.test("the sign-in page lets its form lead back to the app (CSP form-action covers the redirect)", async (t) => {
    const { challenge } = pkce();
    const cases: Array<[string, string, string]> = [
      [web.id, 'https://app.example.com/callback', `form-action ${kh.origin} https://app.example.com;`],
      [native.id, 'http://127.0.0.1:49152/callback', `form-action ${kh.origin} http://127.0.0.1:49152;`],
      [native.id, 'com.example.app:/callback', `form-action ${kh.origin} com.example.app:;`],
    ];
    for (const [clientId, redirectUri, expected] of cases) {
      const params = { ...base({ response_type: 'code' }), client_id: clientId, redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256' };
      const { response } = await new Agent().follow(`${kh.issuer}/auth?${new URLSearchParams(params)}`, kh.origin);
      t.equal(response.status, 200);
      t.ok(response.headers.get('content-security-policy')?.includes(expected), `${redirectUri}: ${expected}`);
    }
  });

  t.test('prompt=none without a session goes back with login_required and state', async (t) => {
    const params = base({ response_type: 'code id_token', prompt: 'none' });
    const out = await authorize(new Agent(), kh.issuer, params);
    t.equal(out.target, 'https://app.example.com/callback');
    t.equal(out.params.get('error'), 'login_required');
    t.equal(out.params.get('state'), params.state);
  });

  t.test('a signed-in request that asks for no scope goes back with access_denied and stores nothing', async (t) => {
    // An app this browser's user has never used: no grant exists for it yet.
    const fresh = (await createClient(kh.clients, { name: 'Never used', redirectUris: ['https://fresh.example.com/cb'] })).client;
    const params = { client_id: fresh.id, redirect_uri: 'https://fresh.example.com/cb', response_type: 'code', state: random() };
    const before = await snapshot(kh.db.pool);
    const out = await authorize(agent, kh.issuer, params);
    t.equal(out.target, 'https://fresh.example.com/cb');
    t.equal(out.params.get('error'), 'access_denied');
    t.equal(out.params.get('state'), params.state);
    const after = await snapshot(kh.db.pool);
    t.doesNotThrow(() => unchanged(before, after, 'the refused request'), 'no grant stored, the session row untouched');
  });

  t.test('cancelling the sign-in goes back with access_denied and state', async (t) => {
    const fresh = new Agent();
    const params = base({ response_type: 'code', response_mode: 'form_post' });
    const page = await authorize(fresh, kh.issuer, params);
    t.equal(page.via, 'page');
    const uid = /\/interaction\/([\w-]+)/.exec(page.target)![1]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.html!)![1]!;
    const cancelled = await fresh.follow(`${kh.origin}/interaction/${uid}/abort`, kh.origin, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf }).toString(),
    });
    const html = await cancelled.response.text();
    t.match(html, /name="error" value="access_denied"/);
    t.match(html, new RegExp(`name="state" value="${params.state}"`));
  });

  t.test('an authorization request may be POSTed as a form', async (t) => {
    const params = base({ response_type: 'code id_token', response_mode: 'form_post' });
    const out = await authorize(agent, kh.issuer, params, { method: 'POST' });
    t.equal(out.via, 'form_post');
    t.ok(out.params.get('code'));
    t.equal(decodeJwt(out.params.get('id_token')!).nonce, params.nonce);
    t.equal(out.params.get('state'), params.state);
  });
});
