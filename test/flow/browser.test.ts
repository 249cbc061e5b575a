import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import t, { type Test } from 'tap';
import { freePort, startTestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';

/**
 * The hybrid flow end to end: headless Chromium types into the real sign-in page, openid-client is the relying
 * party, and a tiny app on loopback receives form_post and fragment responses.
 */

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'flow');
const LIFETIME = 900;

/** What arrived at the app: a form_post (or a fragment posted back by the callback page), or a GET. */
interface Arrival {
  method: 'POST' | 'GET';
  path: string;
  params: URLSearchParams;
  /** The Origin header the browser sent with a POST. */
  origin?: string | undefined;
}

/** The relying party's browser-facing side: /callback (form_post and fragment) and /signed-out. */
async function startRelyingParty(t: Test) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const waiting: Array<(arrival: Arrival) => void> = [];
  const arrived: Arrival[] = [];
  const deliver = (arrival: Arrival) => {
    const next = waiting.shift();
    if (next) next(arrival);
    else arrived.push(arrival);
  };
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', origin);
    if (req.method === 'POST' && (url.pathname === '/callback' || url.pathname === '/fragment')) {
      deliver({ method: 'POST', path: url.pathname, params: new URLSearchParams(await readBody(req)), origin: req.headers.origin });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>App</title><h1>Signed in to the app</h1>');
      return;
    }
    if (req.method === 'GET' && url.pathname === '/callback' && !url.search) {
      // A fragment never reaches the server: the page posts it back, as a real app's callback page would.
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><title>App</title><h1>Finishing sign-in</h1>
<script>
fetch('/fragment', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: location.hash.slice(1) })
  .then(function () { document.querySelector('h1').textContent = 'Signed in to the app'; });
</script>`);
      return;
    }
    if (req.method === 'GET' && (url.pathname === '/signed-out' || url.pathname === '/callback')) {
      deliver({ method: 'GET', path: url.pathname, params: url.searchParams });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>App</title><h1>Back at the app</h1>');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    origin,
    /** The next thing the browser brought to the app. */
    next(): Promise<Arrival> {
      const ready = arrived.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const waiter = (arrival: Arrival) => {
          clearTimeout(timer);
          resolve(arrival);
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(waiter), 1);
          reject(new Error('nothing arrived at the app within 15 s'));
        }, 15_000);
        waiting.push(waiter);
      });
    },
  };
}

async function openPage(t: Test, browser: Browser, name: string): Promise<{ page: Page; shot: (label: string) => Promise<void> }> {
  await mkdir(ARTIFACTS, { recursive: true });
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  t.teardown(async () => {
    if (!t.passing()) {
      t.comment(`page ${page.url()}:\n${await page.locator('body').innerText().catch(() => '(no page)')}\n${problems.join('\n')}`);
      await page.screenshot({ path: join(ARTIFACTS, `${name}-failure.png`), fullPage: true }).catch(() => {});
    }
    await context.close();
  });
  let step = 0;
  const shot = (label: string) => page.screenshot({ path: join(ARTIFACTS, `${name}-${String(++step).padStart(2, '0')}-${label}.png`) }).then(() => {});
  return { page, shot };
}

t.test('hybrid sign-in in a real browser, with openid-client as the app', async (t) => {
  const kh = await startTestApp(t);
  const rp = await startRelyingParty(t);
  const { user, username, password } = await createUser(kh.users);
  const redirectUri = `${rp.origin}/callback`;
  const signedOutUri = `${rp.origin}/signed-out`;
  const { client: registered, secret } = await createClient(kh.clients, {
    name: 'Browser test app',
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [signedOutUri],
    allowRefreshToken: true,
    accessTokenLifetime: LIFETIME,
  });
  const browser = await launchChromium(t);

  for (const mode of ['form_post', 'fragment'] as const) {
    t.test(`response_mode=${mode}`, async (t) => {
      const auth = mode === 'form_post' ? client.ClientSecretBasic(secret) : client.ClientSecretPost(secret);
      const config = await client.discovery(new URL(kh.issuer), registered.id, undefined, auth, { execute: [client.allowInsecureRequests] });
      client.useCodeIdTokenResponseType(config);
      const { page, shot } = await openPage(t, browser, mode);

      // 1. Sign in: the app sends the browser to Keyhold, the user types into the sign-in page.
      const verifier = client.randomPKCECodeVerifier();
      const nonce = client.randomNonce();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid profile email offline_access',
        response_type: 'code id_token',
        response_mode: mode,
        nonce,
        state,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      await page.goto(url.href);
      await page.waitForURL(/\/interaction\//);
      t.equal(await page.title(), 'Sign in · Keyhold');
      t.match(await page.locator('main').innerText(), /Browser test app/, 'the page names the app');
      await shot('sign-in');
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password').fill('not the password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').waitFor();
      t.match(await page.getByRole('alert').innerText(), /Incorrect username or password/);
      await shot('wrong-password');
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();

      const arrival = await rp.next();
      t.equal(arrival.method, 'POST');
      t.equal(arrival.path, mode === 'form_post' ? '/callback' : '/fragment');
      if (mode === 'form_post') t.equal(arrival.origin, new URL(kh.issuer).origin, "the form_post names Keyhold's origin (not null): apps checking a POST's origin accept it");
      t.equal(arrival.params.get('state'), state);
      t.ok(arrival.params.get('id_token'), 'an ID token came through the browser');
      t.notOk(arrival.params.get('access_token'), 'no access token through the browser');
      await page.getByText('Signed in to the app').waitFor();
      await shot('back-at-app');

      // 2. The app's back end redeems the code; openid-client checks c_hash, nonce, state and the signature.
      const current =
        mode === 'form_post'
          ? new Request(redirectUri, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: arrival.params.toString() })
          : new URL(`${redirectUri}#${arrival.params.toString()}`);
      const tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: verifier,
        expectedNonce: nonce,
        expectedState: state,
        idTokenExpected: true,
      });
      t.equal(tokens.token_type.toLowerCase(), 'bearer');
      t.equal(tokens.expires_in, LIFETIME, 'expires_in is the client lifetime');
      t.type(tokens.refresh_token, 'string', 'offline_access gave a refresh token without prompt=consent');
      t.match(tokens.scope, /offline_access/);
      const claims = tokens.claims()!;
      t.equal(claims.sub, user.id);
      t.equal(claims.nonce, nonce);

      // 3. Who is signed in.
      const info = await client.fetchUserInfo(config, tokens.access_token, user.id);
      t.match(info, { sub: user.id, preferred_username: username, name: 'Test User', email: `${username}@example.com` });

      // 4. Refresh: a new refresh token, the same lifetime.
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
      t.equal(refreshed.expires_in, LIFETIME);
      t.type(refreshed.refresh_token, 'string');
      t.not(refreshed.refresh_token, tokens.refresh_token, 'the refresh token rotated');
      const introspection = await client.tokenIntrospection(config, refreshed.access_token);
      t.equal(introspection.active, true);

      // 5. Log out with the ID token as a hint: no question asked, back at the app with state.
      const logoutState = client.randomState();
      const logout = client.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: signedOutUri,
        state: logoutState,
      });
      await page.goto(logout.href);
      const back = await rp.next();
      t.equal(back.path, '/signed-out');
      t.equal(back.params.get('state'), logoutState);
      await page.waitForURL(`${signedOutUri}?state=${logoutState}`);
      await shot('signed-out');

      // 6. After logout, a silent sign-in needs the user again.
      const silentState = client.randomState();
      await page.goto(
        client.buildAuthorizationUrl(config, {
          redirect_uri: redirectUri,
          scope: 'openid',
          response_type: 'code id_token',
          response_mode: mode,
          nonce: client.randomNonce(),
          state: silentState,
          prompt: 'none',
          code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
          code_challenge_method: 'S256',
        }).href,
      );
      const silent = await rp.next();
      t.equal(silent.params.get('error'), 'login_required');
      t.equal(silent.params.get('state'), silentState);
    });
  }

  t.test('logout with client_id asks the user first', async (t) => {
    const config = await client.discovery(new URL(kh.issuer), registered.id, secret, undefined, { execute: [client.allowInsecureRequests] });
    const { page, shot } = await openPage(t, browser, 'logout-confirm');
    await page.goto(
      client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid',
        response_type: 'code',
        response_mode: 'form_post',
        state: 's1',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }).href,
    );
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    t.ok((await rp.next()).params.get('code'));
    await page.getByText('Signed in to the app').waitFor();

    const state = client.randomState();
    await page.goto(client.buildEndSessionUrl(config, { client_id: registered.id, post_logout_redirect_uri: signedOutUri, state }).href);
    await page.getByRole('button', { name: 'Yes, sign me out' }).waitFor();
    await shot('question');
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    const back = await rp.next();
    t.equal(back.path, '/signed-out');
    t.equal(back.params.get('state'), state);
  });

  t.test('an unregistered logout URL shows an error page and never redirects', async (t) => {
    const { page, shot } = await openPage(t, browser, 'logout-unregistered');
    const response = await page.goto(
      `${kh.issuer}/session/end?${new URLSearchParams({ client_id: registered.id, post_logout_redirect_uri: `${signedOutUri}?x=1` })}`,
    );
    t.equal(response?.status(), 400);
    t.equal(new URL(page.url()).origin, kh.origin, 'the browser stays on Keyhold');
    t.match(await page.locator('main').innerText(), /Sign-out could not continue/);
    await shot('error');
  });
});
