import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { Agent, loginForm, postSignIn } from '../helpers/browserless.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';

/** Starts an authorization request and returns the agent sitting on the sign-in page. */
async function openSignIn(kh: TestApp, clientId: string) {
  const agent = new Agent();
  const url = new URL(`${kh.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: 'https://app.example.com/callback',
    scope: 'openid',
    code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const { response, url: pageUrl } = await agent.follow(url.href, kh.origin);
  const html = await response.text();
  return { agent, pageUrl, html, ...loginForm(html) };
}

const post = (agent: Agent, url: string, fields: Record<string, string>) =>
  agent.fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });

t.test('the sign-in page', async (t) => {
  const kh = await startTestApp(t);
  const { client } = await createClient(kh.clients, { name: 'Payroll <app>' });
  const { username, password } = await createUser(kh.users);

  t.test('is a real, labelled form with the client named safely', async (t) => {
    const { html, pageUrl, agent } = await openSignIn(kh, client.id);
    t.match(html, /<label for="username">Username<\/label>/);
    t.match(html, /<label for="password">Password<\/label>/);
    t.match(html, /autocomplete="username"/);
    t.match(html, /autocomplete="current-password"/);
    t.match(html, /Payroll &lt;app&gt;/, 'the client name is escaped');
    const response = await agent.fetch(pageUrl);
    t.equal(response.headers.get('cache-control'), 'no-store');
    t.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  });

  t.test('a wrong password and an unknown user get the same message', async (t) => {
    const wrong = await openSignIn(kh, client.id);
    const r1 = await postSignIn(wrong.agent, new URL(wrong.action, kh.origin).href, { username, password: 'nope-nope', csrf: wrong.csrf });
    const unknown = await openSignIn(kh, client.id);
    const r2 = await postSignIn(unknown.agent, new URL(unknown.action, kh.origin).href, { username: 'nobody-here', password: 'nope-nope', csrf: unknown.csrf });
    t.ok(r1.refused && r2.refused, 'both are sent back to the sign-in page');
    t.equal(r1.status, 303);
    t.equal(r2.status, 303);
    const message = (html: string) => /<p class="error"[^>]*>([^<]+)<\/p>/.exec(html)?.[1];
    const [m1, m2] = [message(r1.html), message(r2.html)];
    t.equal(m1, 'Incorrect username or password.');
    t.equal(m1, m2, 'no way to tell which usernames exist');
  });

  t.test('a disabled user cannot sign in', async (t) => {
    const disabled = await createUser(kh.users);
    await kh.users.update(disabled.user.id, { disabled: true });
    const s = await openSignIn(kh, client.id);
    const r = await postSignIn(s.agent, new URL(s.action, kh.origin).href, { username: disabled.username, password: disabled.password, csrf: s.csrf });
    t.ok(r.refused);
    t.match(r.html, /Incorrect username or password/);
  });

  t.test('a missing or forged CSRF token is refused and signs nobody in', async (t) => {
    const s = await openSignIn(kh, client.id);
    const missing = await post(s.agent, new URL(s.action, kh.origin).href, { username, password });
    t.equal(missing.status, 403);
    t.match(await missing.text(), /did not come from this page/);
    const forged = await post(s.agent, new URL(s.action, kh.origin).href, { username, password, csrf: 'x'.repeat(43) });
    t.equal(forged.status, 403);
    const ok = await post(s.agent, new URL(s.action, kh.origin).href, { username, password, csrf: s.csrf });
    t.equal(ok.status, 303, 'the real token still works afterwards');
  });

  t.test('the right password goes back to the provider', async (t) => {
    const s = await openSignIn(kh, client.id);
    const r = await post(s.agent, new URL(s.action, kh.origin).href, { username: username.toUpperCase(), password, csrf: s.csrf });
    t.equal(r.status, 303, 'usernames are case-insensitive');
    t.match(r.headers.get('location') ?? '', /\/auth\/[\w-]+$/);
  });

  t.test('an unknown or expired interaction shows a readable page', async (t) => {
    const agent = new Agent();
    const r = await agent.fetch(`${kh.origin}/interaction/does-not-exist`);
    t.equal(r.status, 400);
    const html = await r.text();
    t.match(html, /This sign-in has expired/);
    t.notMatch(html, /at .*\.(ts|js):\d+/, 'no stack trace');

    const s = await openSignIn(kh, client.id);
    await kh.db.pool.query("DELETE FROM oidc_payloads WHERE model = 'Interaction'");
    const expired = await post(s.agent, new URL(s.action, kh.origin).href, { username, password, csrf: s.csrf });
    t.equal(expired.status, 400);
    t.match(await expired.text(), /This sign-in has expired/);
  });

  t.test('an unknown client gets an HTML error page, not a redirect', async (t) => {
    const agent = new Agent();
    const r = await agent.fetch(`${kh.issuer}/auth?client_id=00000000-0000-4000-8000-000000000000&response_type=code&redirect_uri=${encodeURIComponent('https://evil.example.com/')}&scope=openid`);
    t.equal(r.status, 400);
    t.equal(r.headers.get('location'), null);
    t.match(r.headers.get('content-type') ?? '', /text\/html/);
  });

  t.test('no password reaches the logs', async (t) => {
    t.notMatch(kh.logs.text, password);
    t.notMatch(kh.logs.text, 'nope-nope');
    t.match(kh.logs.text, /sign-in failed/, 'failures are logged without the password');
  });
});
