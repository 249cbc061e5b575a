import t, { type Test } from 'tap';
import { adminToken, apiFor } from '../helpers/admin.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { createUser } from '../helpers/fixtures.ts';
import { Agent, authorize, decodeJwt, pkce, post, random, userinfo } from '../helpers/flow.ts';
import { fetchJwks, halfHash, signedBy, type Jwks } from '../helpers/jwt.ts';
import { runCli } from '../helpers/cli.ts';
import { startProxy } from '../helpers/proxy.ts';

/**
 * Keyhold replicated as docker-compose.yml runs it: two instances on one database, both with the
 * proxy's URL as ISSUER and TRUST_PROXY=true, behind a reverse proxy that sends each request to the
 * next instance in turn. A browser's hybrid sign-in, the app's code exchange, refreshes, userinfo and
 * logout all cross from one instance to the other, a client changed through the admin API (on one of
 * them) is in force at both on their next request, and a signing-key rotation is published and then
 * used by both.
 */

const REDIRECT = 'https://app.example.com/callback';
const SIGNED_OUT = 'https://app.example.com/signed-out';

t.test('two instances behind a round-robin proxy serve one hybrid sign-in, its tokens and its logout', async (t) => {
  const proxy = await startProxy(t);
  const env = { TRUST_PROXY: 'true' };
  const a = await startTestApp(t, { issuer: proxy.origin, env });
  const b = await startTestApp(t, { issuer: proxy.origin, env, db: a.db });
  proxy.upstreams = [a.origin, b.origin];
  const name = (upstream: string) => (upstream === a.origin ? 'A' : upstream === b.origin ? 'B' : upstream);
  const other = (upstream: string) => (upstream === a.origin ? b.origin : a.origin);
  const last = () => proxy.log.at(-1)!;
  /** Sends the request `send` makes to `instance`, through the proxy. */
  const at = async <T>(t: Test, instance: TestApp, send: () => Promise<T>): Promise<T> => {
    proxy.nextTo(instance.origin);
    const answer = await send();
    t.equal(name(last().upstream), name(instance.origin), `answered by ${name(instance.origin)}`);
    return answer;
  };

  await t.test('both instances publish the one public URL', async (t) => {
    for (const kh of [a, b]) {
      const discovery = await at(t, kh, async () => (await fetch(`${proxy.origin}/.well-known/openid-configuration`)).json());
      t.match(discovery, { issuer: proxy.origin, authorization_endpoint: `${proxy.origin}/auth`, token_endpoint: `${proxy.origin}/token`, jwks_uri: `${proxy.origin}/jwks` }, `${name(kh.origin)}: discovery names the proxy`);
    }
    const jwksAt = (kh: TestApp) => at(t, kh, async () => (await (await fetch(`${proxy.origin}/jwks`)).json()) as Jwks);
    const jwksA = await jwksAt(a);
    const jwksB = await jwksAt(b);
    t.ok(jwksA.keys.length >= 2);
    t.same(jwksB.keys.map((k) => k.kid), jwksA.keys.map((k) => k.kid), 'the same signing keys at both');
  });

  // The app is registered through the admin API, through the proxy, like everything else.
  const { token } = await adminToken(a);
  const api = apiFor({ origin: proxy.origin }, token);
  const created = await api('POST', '/clients', {
    type: 'hybrid',
    name: 'Replicated app',
    redirectUris: [REDIRECT],
    postLogoutRedirectUris: [SIGNED_OUT],
    allowRefreshToken: true,
  });
  t.equal(created.status, 201, 'client created through the proxy');
  const clientId = created.body.client.id as string;
  let secret = { id: created.body.secret.id as string, value: created.body.secret.value as string };
  const creds = await createUser(a.users);
  const agent = new Agent();
  const tokenRequest = (form: Record<string, string>, value = secret.value) => post(`${proxy.origin}/token`, form, { clientId, secret: value });

  // The browser's sign-in: the authorization request, the sign-in page, the posted form and the return to
  // the authorization endpoint, answered with a form_post page carrying the code and an ID token.
  const signInFrom = proxy.log.length;
  const { verifier, challenge } = pkce();
  const state = random();
  const nonce = random();
  const signIn = await authorize(
    agent,
    proxy.origin,
    {
      client_id: clientId,
      redirect_uri: REDIRECT,
      response_type: 'code id_token',
      response_mode: 'form_post',
      scope: 'openid profile email offline_access',
      state,
      nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    },
    creds,
  );
  const signInRequests = proxy.log.slice(signInFrom);
  t.equal(signIn.via, 'form_post', 'the hybrid response is posted to the app');
  t.equal(signIn.target, REDIRECT);
  t.equal(signIn.params.get('state'), state);
  const code = signIn.params.get('code')!;
  const frontIdToken = signIn.params.get('id_token')!;
  t.ok(code && frontIdToken, 'a code and an ID token');
  t.comment(`sign-in: ${signInRequests.map((r) => `${r.method} ${r.path.replace(/^\/(interaction|auth)\/[^/]+/, '/$1/:uid')} -> ${name(r.upstream)} ${r.status}`).join(', ')}`);

  const counts = proxy.counts(signInFrom);
  t.ok(counts[a.origin]! > 0 && counts[b.origin]! > 0, `the sign-in's requests landed on both instances (A ${counts[a.origin]}, B ${counts[b.origin]})`);
  const page = signInRequests.find((r) => r.method === 'GET' && /^\/interaction\/[^/]+$/.test(r.path));
  const posted = signInRequests.find((r) => r.method === 'POST' && /^\/interaction\/[^/]+\/login$/.test(r.path));
  t.ok(page && posted, 'the sign-in page was shown and its form posted');
  t.not(page!.upstream, posted!.upstream, `the page came from ${name(page!.upstream)}, its form was taken by ${name(posted!.upstream)}`);
  const issuedBy = last().upstream;
  t.match(last(), { method: 'GET', path: /^\/auth\//, status: 200 }, 'the code came from the authorization endpoint, resumed after the sign-in');

  const jwks = await fetchJwks(proxy.origin);
  const front = decodeJwt(frontIdToken);
  t.ok(signedBy(frontIdToken, jwks), 'the front-channel ID token verifies against the published keys');
  t.match(front, { iss: proxy.origin, aud: clientId, nonce, c_hash: halfHash(code) }, 'issued by the public URL, bound to the code and the nonce');

  // The app's back end redeems the code: the turn goes to the instance that did not issue it.
  const exchanged = await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
  t.equal(exchanged.status, 200, 'the code is redeemed');
  t.equal(last().upstream, other(issuedBy), `issued by ${name(issuedBy)}, redeemed at ${name(last().upstream)}`);
  const idToken = String(exchanged.body.id_token);
  t.ok(signedBy(idToken, jwks), 'the ID token from the token endpoint verifies');
  t.equal(decodeJwt(idToken).sub, front.sub, 'for the same user');
  t.ok(exchanged.body.refresh_token, 'a refresh token (offline_access)');

  await t.test('refresh on each instance in turn', async (t) => {
    let refreshToken = String(exchanged.body.refresh_token);
    const seen = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const refreshed = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
      t.equal(refreshed.status, 200, `refresh ${i + 1} at ${name(last().upstream)}`);
      t.not(refreshed.body.refresh_token, refreshToken, 'the refresh token rotates');
      refreshToken = String(refreshed.body.refresh_token);
      seen.add(last().upstream);
    }
    t.equal(seen.size, 2, 'the two refreshes were answered by different instances');
    exchanged.body.refresh_token = refreshToken;
  });

  await t.test('userinfo answers at both', async (t) => {
    for (const kh of [a, b]) {
      const info = await at(t, kh, () => userinfo(proxy.origin, String(exchanged.body.access_token)));
      t.equal(info.status, 200);
      t.match(info.body, { sub: front.sub, email: `${creds.username}@example.com` });
    }
  });

  await t.test('the browser session is known at both', async (t) => {
    for (const kh of [a, b]) {
      proxy.nextTo(kh.origin);
      const silent = await authorize(agent, proxy.origin, { client_id: clientId, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state: random(), prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256' });
      t.ok(silent.params.get('code'), `prompt=none starting at ${name(kh.origin)} signs in silently`);
    }
  });

  await t.test('logout: the page from one instance, its confirmation taken by the other; then signed out at both', async (t) => {
    const logoutState = random();
    const pageAnswer = await agent.fetch(
      `${proxy.origin}/session/end?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: SIGNED_OUT, state: logoutState })}`,
      { headers: { accept: 'text/html' } },
    );
    const pageAt = last().upstream;
    t.equal(pageAnswer.status, 200);
    const html = await pageAnswer.text();
    const action = /<form[^>]*method="post" action="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    t.ok(action && xsrf, 'a logout form');
    const done = await agent.fetch(new URL(action!, proxy.origin).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf: xsrf!, logout: 'yes' }).toString(),
    });
    t.not(last().upstream, pageAt, `the page came from ${name(pageAt)}, the confirmation was taken by ${name(last().upstream)}`);
    t.equal(done.status, 303);
    const back = new URL(done.headers.get('location')!);
    t.equal(`${back.origin}${back.pathname}`, SIGNED_OUT, 'back at the app');
    t.equal(back.searchParams.get('state'), logoutState);

    for (const kh of [a, b]) {
      proxy.nextTo(kh.origin);
      const silent = await authorize(agent, proxy.origin, { client_id: clientId, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state: random(), prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256' });
      t.equal(silent.params.get('error'), 'login_required', `signed out at ${name(kh.origin)} too`);
    }
  });

  /** Client authentication at one instance: introspection answers 200 to a client that authenticates, 401 otherwise. */
  const authenticatesAt = (t: Test, kh: TestApp, value: string) => at(t, kh, async () => (await post(`${proxy.origin}/token/introspection`, { token: 'not-a-token' }, { clientId, secret: value })).status);
  const atBoth = async (t: Test, value: string, expected: number, message: string) => {
    for (const kh of [a, b]) t.equal(await authenticatesAt(t, kh, value), expected, `${message} at ${name(kh.origin)}`);
  };

  await t.test('a new secret and a deleted one: in force at both on their next request', async (t) => {
    await atBoth(t, secret.value, 200, 'the first secret authenticates');
    const added = await api('POST', `/clients/${clientId}/secrets`, { description: 'rotated' });
    t.equal(added.status, 201, `secret added through ${name(last().upstream)}`);
    await atBoth(t, added.body.value, 200, 'the new secret authenticates');
    const deleted = await api('DELETE', `/clients/${clientId}/secrets/${secret.id}`);
    t.equal(deleted.status, 204, `first secret deleted through ${name(last().upstream)}`);
    await atBoth(t, secret.value, 401, 'the deleted secret is refused');
    await atBoth(t, added.body.value, 200, 'the new one still authenticates');
    secret = { id: added.body.id, value: added.body.value };
  });

  await t.test('a signing-key rotation: published by both at once, signing at both after the delay', async (t) => {
    const kidOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString('utf8')) as { kid: string; alg: string });
    const jwksAt = (kh: TestApp) => at(t, kh, async () => (await (await fetch(`${proxy.origin}/jwks`)).json()) as Jwks);
    /** A refresh through `kh`: its new ID token, and the refresh token kept for the next step. */
    const idTokenFrom = async (kh: TestApp) => {
      const refreshed = await at(t, kh, () => tokenRequest({ grant_type: 'refresh_token', refresh_token: String(exchanged.body.refresh_token) }));
      t.equal(refreshed.status, 200, `refreshed at ${name(kh.origin)}`);
      exchanged.body.refresh_token = refreshed.body.refresh_token;
      return String(refreshed.body.id_token);
    };
    const before = kidOf(await idTokenFrom(a));
    const rotated = await runCli(a.db.url, ['keys', 'rotate', '--json'], { KEY_ACTIVATION_DELAY: '3' });
    t.equal(rotated.code, 0, rotated.stderr);
    const fresh = (JSON.parse(rotated.stdout) as { keys: { kid: string; alg: string }[] }).keys;
    const freshKid = fresh.find((k) => k.alg === before.alg)!.kid;

    // Published by both within seconds (NOTIFY), no restart.
    for (const kh of [a, b]) {
      const deadline = Date.now() + 5_000;
      while (!(await jwksAt(kh)).keys.some((k) => k.kid === freshKid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      t.ok((await jwksAt(kh)).keys.some((k) => k.kid === freshKid), `${name(kh.origin)} publishes the new key`);
    }
    const pendingToken = await idTokenFrom(b);
    t.equal(kidOf(pendingToken).kid, before.kid, 'before the activation delay, ID tokens are still signed with the old key');

    await new Promise((r) => setTimeout(r, 3_500));
    for (const kh of [a, b]) {
      const idToken = await idTokenFrom(kh);
      t.equal(kidOf(idToken).kid, freshKid, `after the delay, ${name(kh.origin)} signs with the new key`);
      for (const verifier of [a, b]) t.ok(signedBy(idToken, await jwksAt(verifier)), `verified against ${name(verifier.origin)}'s JWKS`);
      t.ok(signedBy(pendingToken, await jwksAt(kh)), `a token signed before the rotation still verifies at ${name(kh.origin)}`);
    }
  });

  await t.test('a disabled client: refused at both on their next request', async (t) => {
    const refresh = (kh: TestApp) => at(t, kh, () => tokenRequest({ grant_type: 'refresh_token', refresh_token: String(exchanged.body.refresh_token) }));
    const before = await refresh(a);
    t.equal(before.status, 200, 'the offline refresh token outlives the logout');
    exchanged.body.refresh_token = before.body.refresh_token;
    await atBoth(t, secret.value, 200, 'the client authenticates');
    const disabled = await api('PATCH', `/clients/${clientId}`, { enabled: false });
    t.equal(disabled.status, 200, `disabled through ${name(last().upstream)}`);
    await atBoth(t, secret.value, 401, 'the disabled client is refused');
    for (const kh of [a, b]) {
      const refused = await refresh(kh);
      t.equal(refused.status, 401, `its refresh token is refused at ${name(kh.origin)}`);
      t.equal(refused.body.error, 'invalid_client');
    }
    proxy.nextTo(a.origin);
    const signInAgain = await authorize(new Agent(), proxy.origin, { client_id: clientId, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state: random(), code_challenge: challenge, code_challenge_method: 'S256' });
    t.equal(signInAgain.via, 'page', 'no sign-in for a disabled client');
    t.equal(signInAgain.status, 400);
  });

  await t.test('nothing secret in either instance log', async (t) => {
    for (const kh of [a, b]) {
      for (const value of [secret.value, code, frontIdToken, String(exchanged.body.access_token), String(exchanged.body.refresh_token), creds.password]) {
        t.notOk(kh.logs.text.includes(value), `${name(kh.origin)}'s log holds no secret, code, token or password`);
      }
    }
  });
});

