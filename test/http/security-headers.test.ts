import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { loginForm } from '../helpers/browserless.ts';
import { Agent, random } from '../helpers/flow.ts';
import { rawRequest } from '../helpers/raw-http.ts';

/**
 * The security headers of every page a browser can reach, whether Fastify or oidc-provider renders it;
 * HSTS when the issuer is https; what shared caches may keep of discovery and the JWKS.
 */

const APP = 'https://app.example.com';
const REDIRECT = `${APP}/callback`;
const SIGNED_OUT = `${APP}/signed-out`;

const directive = (csp: string, name: string) =>
  csp
    .split(';')
    .map((d) => d.trim())
    .find((d) => d === name || d.startsWith(`${name} `));

/** The headers every HTML page carries; `referrer` is the policy expected. */
function checkPage(t: Test, what: string, response: Response, { status, referrer = 'no-referrer' }: { status: number; referrer?: string }) {
  t.equal(response.status, status, `${what}: status`);
  t.match(response.headers.get('content-type'), /^text\/html/, `${what}: HTML`);
  const csp = response.headers.get('content-security-policy') ?? '';
  t.equal(directive(csp, 'frame-ancestors'), "frame-ancestors 'none'", `${what}: never framed (CSP)`);
  t.ok(directive(csp, 'default-src') || directive(csp, 'script-src'), `${what}: a real policy, not just frame-ancestors`);
  t.equal(response.headers.get('x-frame-options'), 'DENY', `${what}: never framed (X-Frame-Options)`);
  t.equal(response.headers.get('x-content-type-options'), 'nosniff', `${what}: nosniff`);
  t.equal(response.headers.get('referrer-policy'), referrer, `${what}: Referrer-Policy`);
  t.equal(response.headers.get('strict-transport-security'), null, `${what}: no HSTS for an http issuer`);
  return csp;
}

const formBody = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
  body: new URLSearchParams(fields).toString(),
});

function authUrl(kh: TestApp, clientId: string, extra: Record<string, string> = {}) {
  const params = { client_id: clientId, redirect_uri: REDIRECT, response_type: 'code id_token', scope: 'openid', state: random(), nonce: random(), ...extra };
  return `${kh.issuer}/auth?${new URLSearchParams(params)}`;
}

t.test('every HTML page a browser can reach', async (t) => {
  const kh = await startTestApp(t);
  const { client } = await createClient(kh.clients, { postLogoutRedirectUris: [SIGNED_OUT] });
  const { username, password } = await createUser(kh.users);

  t.test('the sign-in pages (Fastify)', async (t) => {
    const agent = new Agent();
    const signIn = await agent.follow(authUrl(kh, client.id), kh.origin);
    const html = await signIn.response.text();
    checkPage(t, 'sign-in page', signIn.response, { status: 200 });
    const { action, csrf } = loginForm(html);
    const wrongPassword = await agent.fetch(action, formBody({ username, password: 'not it at all', csrf }));
    t.equal(wrongPassword.status, 303, 'a wrong password is sent back to the sign-in page (Post/Redirect/Get)');
    const again = await agent.fetch(new URL(wrongPassword.headers.get('location')!, action).href);
    checkPage(t, 'wrong password', again, { status: 200 });
    t.match(await again.text(), /Incorrect username or password/);
    const badCsrf = await agent.fetch(action, formBody({ username, password, csrf: 'x'.repeat(43) }));
    checkPage(t, 'sign-in error page (bad CSRF)', badCsrf, { status: 403 });
    const expired = await new Agent().fetch(`${kh.origin}/interaction/no-such-interaction`);
    checkPage(t, 'expired sign-in page', expired, { status: 400 });
    t.match(await expired.text(), /This sign-in has expired/);
  });

  t.test("the provider's error page", async (t) => {
    const response = await fetch(authUrl(kh, 'no-such-client'), { headers: { accept: 'text/html' } });
    const csp = checkPage(t, 'provider error page', response, { status: 400 });
    t.equal(directive(csp, 'script-src'), "script-src 'none'", 'no script at all');
    t.equal(directive(csp, 'form-action'), `form-action ${kh.origin}`, 'no app named: the client is unknown');
    t.match(await response.text(), /Sign-in could not continue/);
  });

  t.test('the form_post response page: only its own script, its form only to the app', async (t) => {
    const agent = new Agent();
    const signIn = await agent.follow(authUrl(kh, client.id, { response_mode: 'form_post' }), kh.origin);
    const { action, csrf } = loginForm(await signIn.response.text());
    const { response } = await agent.follow(action, kh.origin, formBody({ username, password, csrf }));
    const csp = checkPage(t, 'form_post page', response, { status: 200, referrer: 'origin' });
    const html = await response.text();
    t.match(html, new RegExp(`<form method="post" action="${REDIRECT}">`), 'it posts to the app');
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    t.equal(scripts.length, 1);
    const hash = createHash('sha256').update(scripts[0]!).digest('base64');
    t.equal(directive(csp, 'script-src'), `script-src 'sha256-${hash}'`, 'exactly that script may run');
    t.equal(directive(csp, 'form-action'), `form-action ${kh.origin} ${APP}`, 'the form may go to the app');
    t.equal(directive(csp, 'default-src'), "default-src 'none'");
  });

  t.test('the sign-out pages (oidc-provider)', async (t) => {
    const agent = new Agent();
    const signIn = await agent.follow(authUrl(kh, client.id), kh.origin);
    const { action, csrf } = loginForm(await signIn.response.text());
    const signedIn = await agent.follow(action, kh.origin, formBody({ username, password, csrf }));
    t.ok(signedIn.url.startsWith(REDIRECT), 'signed in');
    const idToken = new URLSearchParams(new URL(signedIn.url).hash.slice(1)).get('id_token')!;

    const ask = await agent.fetch(`${kh.issuer}/session/end?${new URLSearchParams({ client_id: client.id, post_logout_redirect_uri: SIGNED_OUT })}`, {
      headers: { accept: 'text/html' },
    });
    const csp = checkPage(t, 'sign-out confirmation', ask, { status: 200 });
    t.equal(directive(csp, 'form-action'), `form-action ${kh.origin} ${APP}`, 'the confirmation may lead back to the app');
    t.equal(directive(csp, 'script-src'), "script-src 'none'");

    const hinted = await agent.fetch(`${kh.issuer}/session/end?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: SIGNED_OUT })}`, {
      headers: { accept: 'text/html' },
    });
    const own = checkPage(t, 'sign-out with a hint', hinted, { status: 200 });
    t.match(own, new RegExp(`^default-src 'none'; script-src 'sha256-[^']+'; style-src 'unsafe-inline'; img-src 'self'; form-action ${kh.origin} https://app\\.example\\.com;`), 'the page keeps its own policy');
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(await hinted.text())![1]!;

    const confirmed = await agent.fetch(`${kh.issuer}/session/end/confirm`, formBody({ xsrf, logout: 'yes' }));
    t.equal(confirmed.status, 303);
    t.ok(confirmed.headers.get('location')?.startsWith(SIGNED_OUT), 'back at the app');
    t.equal(confirmed.headers.get('referrer-policy'), 'no-referrer', 'the redirect passes no Referer on');
    // Keyhold's own "signed out" page, where a sign-out without a post-logout URL ends.
    const anonymous = await new Agent().fetch(`${kh.issuer}/session/end/success`, { headers: { accept: 'text/html' } });
    checkPage(t, 'post-logout page', anonymous, { status: 200 });
    t.match(await anonymous.text(), /You have been signed out/);
  });

  t.test('the admin console', async (t) => {
    for (const path of ['/admin', '/admin/', '/admin/callback']) {
      checkPage(t, `console ${path}`, await fetch(`${kh.origin}${path}`), { status: 200 });
    }
  });

  t.test('JSON answers are nosniff and pass no Referer on either', async (t) => {
    for (const url of [`${kh.issuer}/.well-known/openid-configuration`, `${kh.issuer}/jwks`, `${kh.origin}/healthz`, `${kh.origin}/api/v1/users`, `${kh.origin}/nowhere`]) {
      const response = await fetch(url);
      t.equal(response.headers.get('x-content-type-options'), 'nosniff', url);
      t.equal(response.headers.get('referrer-policy'), 'no-referrer', url);
      t.equal(response.headers.get('strict-transport-security'), null, url);
      t.notOk(response.headers.get('content-security-policy')?.startsWith("script-src 'none'"), `${url}: no half-built policy left over`);
    }
  });
});

t.test('discovery and the JWKS may be kept by shared caches', async (t) => {
  const kh = await startTestApp(t, { issuerPath: '/oidc' });
  for (const path of ['/.well-known/openid-configuration', '/jwks']) {
    const plain = await fetch(`${kh.issuer}${path}`);
    t.equal(plain.status, 200);
    t.equal(plain.headers.get('cache-control'), 'public, max-age=300', `${path}: Cache-Control`);
    const fromApp = await fetch(`${kh.issuer}${path}`, { headers: { origin: 'https://spa.example' } });
    t.equal(fromApp.headers.get('access-control-allow-origin'), 'https://spa.example', `${path}: CORS echoes the Origin`);
    t.match(fromApp.headers.get('vary') ?? '', /\bOrigin\b/i, `${path}: so the cached copy varies with Origin`);
    t.equal(fromApp.headers.get('cache-control'), 'public, max-age=300');
  }
  const token = await fetch(`${kh.issuer}/token`, { method: 'POST' });
  t.not(token.headers.get('cache-control'), 'public, max-age=300', 'other endpoints are not made cacheable');
});

t.test('HSTS on every response when the issuer is https', async (t) => {
  // Listening on plain http (as behind a proxy that ends TLS); the issuer is the proxy's https URL.
  const issuer = 'https://id.keyhold.example/oidc';
  for (const trustProxy of ['false', 'true']) {
    t.test(`TRUST_PROXY=${trustProxy}`, async (t) => {
      const kh = await startTestApp(t, { env: { ISSUER: issuer, TRUST_PROXY: trustProxy } });
      const { client } = await createClient(kh.clients);
      const headers = trustProxy === 'true' ? { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.keyhold.example' } : undefined;
      const urls = [
        `${kh.origin}/oidc/.well-known/openid-configuration`,
        `${kh.origin}/oidc/jwks`,
        `${kh.origin}/oidc/auth?client_id=no-such-client`,
        `${kh.origin}/oidc/auth?${new URLSearchParams({ client_id: client.id, redirect_uri: REDIRECT, response_type: 'code id_token', scope: 'openid', nonce: random() })}`,
        `${kh.origin}/oidc/token`,
        `${kh.origin}/interaction/no-such-interaction`,
        `${kh.origin}/admin/`,
        `${kh.origin}/healthz`,
        `${kh.origin}/api/v1/users`,
        `${kh.origin}/nowhere`,
      ];
      for (const url of urls) {
        const response = await rawRequest(url, { headers: { accept: 'text/html', ...headers } });
        t.equal(response.headers['strict-transport-security'], 'max-age=31536000', `${new URL(url).pathname}: ${response.status}`);
      }
      const discovery = JSON.parse((await rawRequest(urls[0]!, { headers })).body);
      t.equal(discovery.token_endpoint, `${issuer}/token`, 'the URLs are the https issuer\'s');
    });
  }
});
