import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { loadBrand } from '../../src/pages/brand.ts';
import { MESSAGES } from '../../src/pages/i18n.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { Agent, loginForm, postSignIn } from '../helpers/browserless.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { APP_REDIRECT, codeRequest, random } from '../helpers/flow.ts';

/** The end users' pages over HTTP: what each answers, in which language, and how it moves on. */

const SIGNED_OUT = 'https://app.example.com/signed-out';
const html = { accept: 'text/html' };

/** An agent on the sign-in page of a fresh authorization request (with `extra` parameters). */
async function openSignIn(kh: TestApp, clientId: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const agent = new Agent();
  const url = new URL(`${kh.issuer}/auth`);
  url.search = new URLSearchParams({ ...codeRequest(clientId, APP_REDIRECT), ...extra }).toString();
  const { url: pageUrl } = await agent.follow(url.href, kh.origin, { headers });
  // The agent sends `headers` with the first request only: the page is read again as a browser would ask.
  const response = await agent.fetch(pageUrl, { headers });
  const page = await response.text();
  return { agent, pageUrl, page, status: response.status, ...loginForm(page), action: new URL(loginForm(page).action, kh.origin).href };
}

t.test('the pages', async (t) => {
  const kh = await startTestApp(t);
  const { client } = await createClient(kh.clients, { name: 'Payroll', postLogoutRedirectUris: [SIGNED_OUT] });
  const { user, username, password } = await createUser(kh.users);

  t.test('an address nothing serves: a page for browsers, problem+json for everything else', async (t) => {
    const page = await fetch(`${kh.origin}/no/such/page`, { headers: { ...html, 'accept-language': 'de' } });
    t.equal(page.status, 404);
    t.match(page.headers.get('content-type'), /^text\/html/);
    t.match(page.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    const body = await page.text();
    t.match(body, /<html lang="de">/);
    t.match(body, MESSAGES.de['error.not_found.title']!);
    const json = await fetch(`${kh.origin}/no/such/page`, { headers: { accept: 'application/json' } });
    t.equal(json.status, 404);
    t.match(json.headers.get('content-type'), /^application\/problem\+json/);
    t.match(await json.json(), { status: 404, title: 'Not found' });
    const posted = await fetch(`${kh.origin}/no/such/page`, { method: 'POST', headers: html });
    t.match(posted.headers.get('content-type'), /^application\/problem\+json/, 'only a GET gets the page');
    // Weights count, here as at the provider's paths below: HTML only when it is preferred to JSON.
    for (const path of ['/no/such/page', '/token/x']) {
      for (const accept of ['application/json, text/html;q=0', 'text/html;q=0.1, application/json', 'TEXT/HTML;q=0, */*']) {
        const answer = await fetch(`${kh.origin}${path}`, { headers: { accept } });
        t.match(answer.headers.get('content-type'), /^application\/problem\+json/, `${path}, Accept: ${accept}: JSON`);
      }
      const preferred = await fetch(`${kh.origin}${path}`, { headers: { accept: 'application/json;q=0.5, text/html' } });
      t.match(preferred.headers.get('content-type'), /^text\/html/, `${path}: HTML when preferred`);
    }
    // Below an endpoint of the provider's (its own router answers these).
    for (const path of ['/token/x', '/session/end/nope', '/.well-known/nope']) {
      const providerPage = await fetch(`${kh.origin}${path}`, { headers: html });
      t.equal(providerPage.status, 404, path);
      t.match(await providerPage.text(), /Page not found/);
      t.match(providerPage.headers.get('content-security-policy'), /frame-ancestors 'none'/);
      const providerJson = await fetch(`${kh.origin}${path}`);
      t.match(providerJson.headers.get('content-type'), /^application\/problem\+json/, `${path}: JSON for anything but a browser`);
      t.match(await providerJson.json(), { status: 404 });
    }
  });

  t.test('the sign-in page states its limits and takes anything beyond them as wrong credentials', async (t) => {
    const s = await openSignIn(kh, client.id);
    t.match(s.page, /id="username"[^>]*maxlength="256"/);
    t.match(s.page, /id="password"[^>]*maxlength="1024"/);
    const long = await postSignIn(s.agent, s.action, { username: 'u'.repeat(300), password: 'p'.repeat(1100), csrf: s.csrf });
    t.ok(long.refused, 'refused like any wrong password');
    t.match(long.html, /Incorrect username or password\./);
    const longPassword = await postSignIn(s.agent, s.action, { username, password: `${password}${'x'.repeat(1100)}`, csrf: s.csrf });
    t.ok(longPassword.refused);
    const forged = await postSignIn(s.agent, s.action, { username, password, csrf: 'x'.repeat(43) });
    t.equal(forged.status, 403, 'a form that did not come from the page is refused');
    t.match(forged.html, new RegExp(`href="${s.pageUrl}">Back to the sign-in page</a>`), 'with the way back to the sign-in page');
  });

  t.test("the sign-in page shows the app's name exactly as registered, whatever it holds", async (t) => {
    // `$&`, `$'` and `$1` mean something to String.replace; markup must stay text.
    const name = "R$&D Pay$'roll $1 <b>&amp;</b>";
    const { client: odd } = await createClient(kh.clients, { name });
    const s = await openSignIn(kh, odd.id);
    t.ok(s.page.includes(`<strong dir="auto">R$&amp;D Pay$&#39;roll $1 &lt;b&gt;&amp;amp;&lt;/b&gt;</strong>`), 'the name, escaped once, in the sentence');
    t.notOk(s.page.includes('\u0000'), 'no placeholder left in the page');
  });

  t.test('a sign-in form refused before it is read (too large, another type) answers in the sign-in\'s language, with the way back', async (t) => {
    const s = await openSignIn(kh, client.id, { ui_locales: 'fr' }, { 'accept-language': 'de' });
    const cases: Array<[string, string, number]> = [
      ['application/x-www-form-urlencoded', new URLSearchParams({ username, password: 'p'.repeat(70 * 1024), csrf: s.csrf }).toString(), 413],
      ['application/octet-stream', `username=${username}`, 415],
    ];
    for (const [type, body, status] of cases) {
      const answer = await s.agent.fetch(s.action, { method: 'POST', headers: { 'content-type': type, 'accept-language': 'de' }, body });
      t.equal(answer.status, status, `${type}: ${status}`);
      const page = await answer.text();
      t.match(page, /<html lang="fr">/, `${type}: in the sign-in page's language, not the browser's`);
      t.match(page, MESSAGES.fr['signin.refused.title']!);
      t.ok(page.includes(`href="${s.pageUrl}">${MESSAGES.fr['signin.back_to_form']}</a>`), `${type}: with the way back to the sign-in page`);
    }
    t.equal((await postSignIn(s.agent, s.action, { username, password, csrf: s.csrf })).refused, false, 'the sign-in still works afterwards');
  });

  t.test('a failed sign-in is Post/Redirect/Get: the page saying so is a GET, shown once', async (t) => {
    const s = await openSignIn(kh, client.id);
    const post = await s.agent.fetch(s.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username, password: 'nope', csrf: s.csrf }).toString() });
    t.equal(post.status, 303);
    t.equal(post.headers.get('location'), s.pageUrl, 'back to the sign-in page itself');
    const cookie = post.headers.getSetCookie().find((c) => c.startsWith('keyhold_signin='));
    t.match(cookie, /Path=\/interaction\/; Max-Age=300; HttpOnly; SameSite=Lax/);
    t.notMatch(cookie, new RegExp(password), 'the password is not in it');
    const shown = await s.agent.fetch(s.pageUrl);
    const page = await shown.text();
    t.equal(shown.status, 200);
    t.match(page, /<p class="error" role="alert" id="login-error">Incorrect username or password\.<\/p>/);
    t.match(page, new RegExp(`value="${username}"`), 'the name typed is kept');
    t.match(page, /id="password"[^>]*autofocus aria-describedby="login-error" aria-invalid="true"/, 'the focused field names the error');
    const reloaded = await (await s.agent.fetch(s.pageUrl)).text();
    t.notMatch(reloaded, /login-error/, 'a reload shows the form afresh');

    // The cookie is signed: one altered by hand is ignored.
    s.agent.cookies.set('keyhold_signin', `${Buffer.from(JSON.stringify({ uid: s.pageUrl.split('/').pop(), username: 'x<script>', locked: true })).toString('base64url')}.forged`);
    t.notMatch(await (await s.agent.fetch(s.pageUrl)).text(), /login-error|x&lt;script/);

    const typed = await s.agent.fetch(`${s.pageUrl}/login`);
    t.equal(typed.status, 303, 'the form’s own address, typed in the address bar, leads to the sign-in page');
    t.equal(typed.headers.get('location'), s.pageUrl);
  });

  t.test('a finished sign-in, opened again, says the user is signed in', async (t) => {
    const s = await openSignIn(kh, client.id);
    // A second tab of the same sign-in: the same page, opened before the first tab signs in.
    const signedIn = await postSignIn(s.agent, s.action, { username: ` ${username.toUpperCase()} `, password, csrf: s.csrf });
    t.notOk(signedIn.refused, 'a name typed with spaces and in capitals signs in');
    const done = await s.agent.follow(signedIn.location!, kh.origin);
    t.match(done.url, /^https:\/\/app\.example\.com\/callback\?code=/);

    const back = await s.agent.fetch(s.pageUrl);
    t.equal(back.status, 200, 'Back to the sign-in page: not "expired"');
    const page = await back.text();
    t.match(page, new RegExp(`You are signed in as ${user.username}\\. Continue in Payroll\\.`));
    t.match(page, /href="https:\/\/app\.example\.com\/"/, 'with the way back to the app');
    const secondTab = await postSignIn(s.agent, s.action, { username, password, csrf: s.csrf });
    t.match(secondTab.html, /You are signed in/, 'the other tab, submitted later, is told the same');

    const elsewhere = await new Agent().fetch(s.pageUrl);
    t.equal(elsewhere.status, 400, 'another browser is told it expired');
    t.match(await elsewhere.text(), /This sign-in has expired/);
  });

  t.test('pages in the language asked for: ui_locales first, then Accept-Language', async (t) => {
    const discovery = await (await fetch(`${kh.issuer}/.well-known/openid-configuration`)).json();
    t.same(discovery.ui_locales_supported, ['en', 'fr', 'de']);
    const fr = await openSignIn(kh, client.id, { ui_locales: 'fr-CA en' }, { 'accept-language': 'de' });
    t.match(fr.page, /<html lang="fr">/);
    t.match(fr.page, `<label for="username">${MESSAGES.fr['signin.username']}</label>`);
    const de = await openSignIn(kh, client.id, {}, { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' });
    t.match(de.page, /<html lang="de">/);
    t.match(de.page, MESSAGES.de['signin.submit']!);
    const refused = await postSignIn(de.agent, de.action, { username, password: 'falsch', csrf: de.csrf }, { 'accept-language': 'de' });
    t.match(refused.html, MESSAGES.de['signin.wrong']!);
    const other = await openSignIn(kh, client.id, { ui_locales: 'ja' }, { 'accept-language': 'es' });
    t.match(other.page, /<html lang="en">/, 'English when nothing asked for is supported');
  });

  t.test('sign-out: the question names the app and the account; No keeps the session and says so', async (t) => {
    const s = await openSignIn(kh, client.id);
    const signedIn = await postSignIn(s.agent, s.action, { username, password, csrf: s.csrf });
    await s.agent.follow(signedIn.location!, kh.origin);
    const endSession = () =>
      s.agent.fetch(`${kh.issuer}/session/end?${new URLSearchParams({ client_id: client.id, post_logout_redirect_uri: SIGNED_OUT, state: 'st' })}`, { headers: html });
    const question = await (await endSession()).text();
    t.match(question, /Payroll asks to sign you out\./);
    t.match(question, new RegExp(`You are signed in as ${user.username}\\.`));
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(question)![1]!;
    const no = await s.agent.fetch(`${kh.issuer}/session/end/confirm`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ xsrf }).toString() });
    t.equal(no.status, 200, 'No stays on Keyhold');
    t.equal(no.headers.get('location'), null);
    const stayed = await no.text();
    t.match(stayed, new RegExp(`You are still signed in as ${user.username}\\.`));
    t.match(stayed, /href="https:\/\/app\.example\.com\/signed-out\?state=st"/, 'with the way back to the app');
    const success = await (await s.agent.fetch(`${kh.issuer}/session/end/success`, { headers: html })).text();
    t.match(success, /You are still signed in/, 'the success page opened directly does not claim a sign-out');
    const silent = await s.agent.follow(`${kh.issuer}/auth?${new URLSearchParams({ ...codeRequest(client.id, APP_REDIRECT), prompt: 'none' })}`, kh.origin);
    t.match(silent.url, /code=/, 'the session lives on');

    const again = await (await endSession()).text();
    const yes = await s.agent.fetch(`${kh.issuer}/session/end/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf: /name="xsrf" value="([^"]+)"/.exec(again)![1]!, logout: 'yes' }).toString(),
    });
    t.equal(yes.status, 303);
    t.equal(yes.headers.get('location'), `${SIGNED_OUT}?state=st`);
    t.ok(yes.headers.getSetCookie().some((c) => /^keyhold_signed_in=; Path=\/interaction\/; Max-Age=0/.test(c)), 'the signed-in note of the sign-in pages goes too');
    const after = await (await s.agent.fetch(`${kh.issuer}/session/end/success`, { headers: html })).text();
    t.match(after, /You have been signed out/);
  });

  t.test('an error page links back to the app when its address is registered', async (t) => {
    const unknown = await fetch(`${kh.issuer}/auth?${new URLSearchParams(codeRequest('no-such-client', APP_REDIRECT))}`, { headers: html });
    const unknownPage = await unknown.text();
    t.match(unknownPage, /Sign-in could not continue/);
    t.notMatch(unknownPage, /class="button secondary" href=/, 'no link for an unknown client');
    const badRedirect = await fetch(`${kh.issuer}/auth?${new URLSearchParams(codeRequest(client.id, 'https://evil.example.net/cb'))}`, { headers: html });
    const page = await badRedirect.text();
    t.match(page, /redirect_uri/);
    t.match(page, /href="https:\/\/app\.example\.com\/">Back to Payroll</, 'a link to the app’s registered address, never to the one asked for');
    t.notMatch(page, /href="https:\/\/evil/);
  });
});

t.test('the brand: name, accent and logo from the environment, checked at start', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'keyhold-brand-'));
  await chmod(dir, 0o755);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40" fill="#0a7d3b"/></svg>';
  await writeFile(join(dir, 'logo.svg'), svg);
  const kh = await startTestApp(t, { env: { BRAND_NAME: 'Acme ID', BRAND_ACCENT: '#0A7D3B', BRAND_LOGO: join(dir, 'logo.svg') } });
  const { client } = await createClient(kh.clients);
  const s = await openSignIn(kh, client.id);
  t.match(s.page, /<title>Sign in · Acme ID<\/title>/);
  t.match(s.page, new RegExp(`<img src="${kh.origin}/branding/logo" alt="Acme ID">`));
  t.match(s.page, /--accent: #0a7d3b; --on-accent: #ffffff;/);
  const logo = await fetch(`${kh.origin}/branding/logo`);
  t.equal(logo.headers.get('content-type'), 'image/svg+xml');
  t.equal(await logo.text(), svg);
  t.equal((await fetch(`${kh.origin}/branding/logo`, { headers: { 'if-none-match': logo.headers.get('etag')! } })).status, 304);
  const notFound = await (await fetch(`${kh.origin}/nowhere`, { headers: html })).text();
  t.match(notFound, /alt="Acme ID"/, 'on every page');

  t.equal(loadBrand({ accent: '#ffdd00' }).onAccent, '#000000', 'dark text on a light accent');
  t.equal(loadBrand({ accent: '#123' }).accent, '#112233');
  t.throws(() => loadConfig({ BRAND_ACCENT: 'green' }), ConfigError);
  t.throws(() => loadConfig({ BRAND_NAME: 'a\u0007b' }), ConfigError);
  await writeFile(join(dir, 'logo.bmp'), 'x');
  t.throws(() => loadBrand({ logoFile: join(dir, 'logo.bmp') }), /BRAND_LOGO: must be an \.svg/);
  t.throws(() => loadBrand({ logoFile: join(dir, `missing-${random()}.png`) }), /BRAND_LOGO: cannot read/);
  await writeFile(join(dir, 'big.png'), Buffer.alloc(600 * 1024));
  t.throws(() => loadBrand({ logoFile: join(dir, 'big.png') }), /at most 512 KiB/);
  const plain = await startTestApp(t);
  t.equal((await fetch(`${plain.origin}/branding/logo`)).status, 404, 'no logo configured, none served');
});
