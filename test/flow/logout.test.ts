import t from 'tap';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, authorize, pkce, post, random, userinfo } from '../helpers/flow.ts';

/** RP-initiated logout over plain HTTP. */

const REDIRECT = 'https://app.example.com/callback';
const SIGNED_OUT = 'https://app.example.com/signed-out';

interface LogoutPage {
  status: number;
  location: string | null;
  html: string;
  action?: string;
  xsrf?: string;
  autoConfirms: boolean;
  csp: string | null;
}

/** The end-session request, sent as a GET or (as OpenID Connect allows too) as a form POST. */
async function endSession(agent: Agent, kh: TestApp, params: Record<string, string>, method: 'GET' | 'POST' = 'GET'): Promise<LogoutPage> {
  const response = method === 'GET'
    ? await agent.fetch(`${kh.issuer}/session/end?${new URLSearchParams(params)}`, { headers: { accept: 'text/html' } })
    : await agent.fetch(`${kh.issuer}/session/end`, {
      method: 'POST',
      headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
  const html = await response.text();
  const action = /<form[^>]*method="post" action="([^"]+)"/.exec(html)?.[1];
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
  return {
    status: response.status,
    location: response.headers.get('location'),
    html,
    ...(action ? { action: action.replace(/&amp;/g, '&') } : {}),
    ...(xsrf ? { xsrf } : {}),
    autoConfirms: /name="logout" value="yes"/.test(html) && /<script>[^<]*\.(submit|click)\(\)/.test(html),
    csp: response.headers.get('content-security-policy'),
  };
}

/** Submits the logout form as the browser would (with logout=yes when the user confirms). */
async function confirm(agent: Agent, kh: TestApp, page: LogoutPage, yes = true) {
  const body = new URLSearchParams({ xsrf: page.xsrf!, ...(yes ? { logout: 'yes' } : {}) });
  const response = await agent.fetch(new URL(page.action!, kh.origin).href, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: response.status, location: response.headers.get('location') };
}

t.test('RP-initiated logout', async (t) => {
  const kh = await startTestApp(t);
  const creds = await createUser(kh.users);
  const someoneElse = await createUser(kh.users);
  const { client } = await createClient(kh.clients, { postLogoutRedirectUris: [SIGNED_OUT] });

  /** A browser signed in to the app, and the ID token the app holds. */
  async function signedIn(who = creds) {
    const agent = new Agent();
    const out = await authorize(
      agent,
      kh.issuer,
      { client_id: client.id, redirect_uri: REDIRECT, response_type: 'code id_token', scope: 'openid', state: random(), nonce: random() },
      who,
    );
    return { agent, idToken: out.params.get('id_token')! };
  }
  async function silent(agent: Agent) {
    const state = random();
    const out = await authorize(agent, kh.issuer, { client_id: client.id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state, prompt: 'none' });
    return { out, state };
  }

  t.test('with a valid id_token_hint: signed out at once, back at the app with state', async (t) => {
    const { agent, idToken } = await signedIn();
    t.ok((await silent(agent)).out.params.get('code'), 'signed in: prompt=none gives a code');
    const state = random();
    const page = await endSession(agent, kh, { id_token_hint: idToken, post_logout_redirect_uri: SIGNED_OUT, state });
    t.equal(page.status, 200);
    t.ok(page.autoConfirms, 'the page confirms by itself, no question asked');
    t.equal(page.location, null);
    t.ok(page.csp?.includes(`form-action ${kh.origin} https://app.example.com;`), 'its CSP lets the form lead to the app');
    const done = await confirm(agent, kh, page);
    t.equal(done.status, 303);
    const back = new URL(done.location!);
    t.equal(`${back.origin}${back.pathname}`, SIGNED_OUT);
    t.equal(back.searchParams.get('state'), state);
    const { out, state: silentState } = await silent(agent);
    t.equal(out.params.get('error'), 'login_required', 'after logout, prompt=none gives login_required');
    t.equal(out.params.get('state'), silentState);
  });

  t.test('the end-session request may be a form POST, answered as the GET', async (t) => {
    const { agent, idToken } = await signedIn();
    const state = random();
    const page = await endSession(agent, kh, { id_token_hint: idToken, post_logout_redirect_uri: SIGNED_OUT, state }, 'POST');
    t.equal(page.status, 200);
    t.ok(page.autoConfirms, 'the same page as for the GET');
    const done = await confirm(agent, kh, page);
    t.equal(done.status, 303);
    t.equal(new URL(done.location!).searchParams.get('state'), state);
    t.equal((await silent(agent)).out.params.get('error'), 'login_required', 'signed out');
  });

  t.test('logout revokes what the app got, except offline_access tokens, which outlive the session', async (t) => {
    const withRefresh = await createClient(kh.clients, { name: 'Offline app', allowRefreshToken: true, postLogoutRedirectUris: [SIGNED_OUT] });
    const agent = new Agent();
    const tokensFor = async (id: string, secret: string, scope: string) => {
      const out = await authorize(agent, kh.issuer, { client_id: id, redirect_uri: REDIRECT, response_type: 'code', scope, state: random() }, creds);
      const res = await post(`${kh.issuer}/token`, { grant_type: 'authorization_code', code: out.params.get('code')!, redirect_uri: REDIRECT }, { clientId: id, secret });
      return { accessToken: String(res.body.access_token), refreshToken: res.body.refresh_token as string | undefined };
    };
    const online = await tokensFor(withRefresh.client.id, withRefresh.secret, 'openid');
    const offline = await tokensFor(withRefresh.client.id, withRefresh.secret, 'openid offline_access');
    t.ok(offline.refreshToken);
    const page = await endSession(agent, kh, { client_id: withRefresh.client.id });
    await confirm(agent, kh, page);
    t.equal((await userinfo(kh.issuer, online.accessToken)).status, 401, 'a session-bound access token ends with the session');
    const r = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: offline.refreshToken! }, { clientId: withRefresh.client.id, secret: withRefresh.secret });
    t.equal(r.status, 200, 'an offline_access refresh token survives (the app revokes it when it signs the user out)');
  });

  t.test('a native app: loopback on another port, or a private-use scheme', async (t) => {
    const { client: nativeApp } = await createClient(kh.clients, {
      name: 'Native app',
      redirectUris: ['com.example.app:/callback'],
      postLogoutRedirectUris: ['http://127.0.0.1:8123/signed-out', 'com.example.app:/signed-out'],
    });
    for (const [uri, source] of [
      ['http://127.0.0.1:49152/signed-out', 'http://127.0.0.1:49152'],
      ['com.example.app:/signed-out', 'com.example.app:'],
    ] as const) {
      const agent = new Agent();
      const { challenge } = pkce();
      const out = await authorize(
        agent,
        kh.issuer,
        { client_id: nativeApp.id, redirect_uri: 'com.example.app:/callback', response_type: 'code id_token', scope: 'openid', state: random(), nonce: random(), code_challenge: challenge, code_challenge_method: 'S256' },
        creds,
      );
      const state = random();
      const page = await endSession(agent, kh, { id_token_hint: out.params.get('id_token')!, post_logout_redirect_uri: uri, state });
      t.ok(page.autoConfirms, `${uri}: no question asked`);
      t.ok(page.csp?.includes(`form-action ${kh.origin} ${source};`), `${uri}: CSP names ${source}`);
      const done = await confirm(agent, kh, page);
      t.equal(done.location, `${uri}?state=${state}`);
    }
  });

  t.test('with client_id: the user confirms, then back at the app with state', async (t) => {
    const { agent } = await signedIn();
    const state = random();
    const page = await endSession(agent, kh, { client_id: client.id, post_logout_redirect_uri: SIGNED_OUT, state });
    t.equal(page.status, 200);
    t.notOk(page.autoConfirms, 'without an ID token the user is asked');
    t.match(page.html, /Do you want to sign out of Keyhold\?/);
    const done = await confirm(agent, kh, page);
    t.equal(done.status, 303);
    t.equal(done.location, `${SIGNED_OUT}?state=${state}`);
    t.equal((await silent(agent)).out.params.get('error'), 'login_required');
  });

  t.test("an ID token of someone else than who is signed in: the user is asked", async (t) => {
    const { idToken: othersToken } = await signedIn(someoneElse);
    const { agent } = await signedIn();
    const page = await endSession(agent, kh, { id_token_hint: othersToken, post_logout_redirect_uri: SIGNED_OUT });
    t.equal(page.status, 200);
    t.notOk(page.autoConfirms);
  });

  t.test('without a session: straight back to the app', async (t) => {
    const agent = new Agent();
    const state = random();
    const page = await endSession(agent, kh, { client_id: client.id, post_logout_redirect_uri: SIGNED_OUT, state });
    t.equal(page.status, 200);
    const done = await confirm(agent, kh, page);
    t.equal(done.location, `${SIGNED_OUT}?state=${state}`);
  });

  t.test('without a redirect URL: a signed-out page', async (t) => {
    const { agent, idToken } = await signedIn();
    const page = await endSession(agent, kh, { id_token_hint: idToken });
    const done = await confirm(agent, kh, page);
    t.equal(done.status, 303);
    const success = new URL(done.location!, kh.issuer);
    t.equal(success.origin, kh.origin, 'stays on Keyhold');
    const response = await agent.fetch(success.href);
    t.equal(response.status, 200);
    t.match(await response.text(), /You have been signed out/);
    t.equal((await silent(agent)).out.params.get('error'), 'login_required');
  });

  t.test('a redirect URL without a client is ignored, never followed', async (t) => {
    const { agent } = await signedIn();
    const page = await endSession(agent, kh, { post_logout_redirect_uri: SIGNED_OUT, state: 'x' });
    const done = await confirm(agent, kh, page);
    t.equal(new URL(done.location!, kh.issuer).origin, kh.origin);
  });

  t.test('an unregistered redirect URL, or one with anything added, never redirects', async (t) => {
    const { agent, idToken } = await signedIn();
    for (const uri of [
      'https://evil.example.com/signed-out',
      `${SIGNED_OUT}?next=/`,
      `${SIGNED_OUT}/`,
      `${SIGNED_OUT}#x`,
      'https://app.example.com/Signed-out',
      'http://app.example.com/signed-out',
      REDIRECT,
    ]) {
      for (const params of [{ id_token_hint: idToken }, { client_id: client.id }] as Array<Record<string, string>>) {
        const page = await endSession(agent, kh, { ...params, post_logout_redirect_uri: uri, state: 's' });
        const how = 'id_token_hint' in params ? 'id_token_hint' : 'client_id';
        t.equal(page.status, 400, `${uri} (${how}): 400`);
        t.equal(page.location, null, `${uri} (${how}): no redirect`);
        t.notOk(page.action, `${uri} (${how}): no logout form`);
        t.match(page.html, /Sign-out could not continue/, `${uri} (${how}): Keyhold's error page`);
      }
    }
    t.ok((await silent(agent)).out.params.get('code'), 'and the session is still there');
  });

  t.test('a forged id_token_hint is refused', async (t) => {
    const { agent, idToken } = await signedIn();
    const [h, p] = idToken.split('.');
    const page = await endSession(agent, kh, { id_token_hint: `${h}.${p}.AAAA`, post_logout_redirect_uri: SIGNED_OUT });
    t.equal(page.status, 400);
    t.equal(page.location, null);
    t.notOk(page.autoConfirms);
  });
});
