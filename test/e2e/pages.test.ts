import t from 'tap';
import { startTestApp } from '../helpers/app.ts';
import { launchChromium } from '../helpers/browser.ts';
import { openPage } from '../helpers/console.ts';
import { createUser } from '../helpers/fixtures.ts';
import { authorize, checkPage, LANGS, lastDocument, msg, registerRp, startRp } from '../helpers/pages.ts';

/**
 * Every page an end user can reach, in Chromium, in each language: Keyhold's own (brand, language, framing
 * and script policy), accessible (axe-core), readable at phone and desktop widths. The language is asked
 * for both ways at once (ui_locales and Accept-Language); the test after it sets them apart.
 */
t.test('every page end users see, in each language', async (t) => {
  const kh = await startTestApp(t);
  const rp = await startRp(t);
  const client = await registerRp(kh, rp);
  const user = await createUser(kh.users);
  const browser = await launchChromium(t);

  for (const lang of LANGS) {
    await t.test(lang, async (t) => {
      const context = await browser.newContext({ locale: lang === 'en' ? 'en-US' : `${lang}-${lang.toUpperCase()}` });
      t.teardown(() => context.close());
      const { page, problems, shot } = await openPage(t, browser, kh, `pages-${lang}`, { context });
      const document = lastDocument(page);
      const check = (label: string, heading: string) => checkPage(t, page, document, { lang, heading, label, shot });

      await page.goto(authorize(kh, client.id, rp, { ui_locales: lang }));
      await check('sign-in', msg(lang, 'signin.title'));
      t.ok(await page.getByText(msg(lang, 'signin.to_app', { app: 'Test app' })).isVisible(), 'names the app');

      await page.getByLabel(msg(lang, 'signin.username')).fill(user.username);
      await page.getByLabel(msg(lang, 'signin.password')).fill('not the password');
      await page.getByRole('button', { name: msg(lang, 'signin.submit') }).click();
      await page.getByRole('alert').waitFor();
      await check('wrong-password', msg(lang, 'signin.title'));
      t.equal(await page.getByRole('alert').innerText(), msg(lang, 'signin.wrong'));

      await page.getByLabel(msg(lang, 'signin.password')).fill(user.password);
      await page.getByRole('button', { name: msg(lang, 'signin.submit') }).click();
      await page.waitForURL((url) => url.href.startsWith(`${rp.callback}?`));
      await page.goBack();
      await check('signed-in', msg(lang, 'signin.done.title'));
      t.ok(await page.getByText(msg(lang, 'signin.done.body', { user: user.username, app: 'Test app' })).isVisible(), 'says who is signed in, to what');

      await page.goto(`${kh.origin}/interaction/unknown`);
      await check('expired', msg(lang, 'signin.expired.title'));

      const endSession = new URLSearchParams({ client_id: client.id, post_logout_redirect_uri: rp.signedOut, ui_locales: lang });
      await page.goto(`${kh.issuer}/session/end?${endSession}`);
      await check('sign-out', msg(lang, 'signout.title'));
      await page.getByRole('button', { name: msg(lang, 'signout.no') }).click();
      await check('stayed-signed-in', msg(lang, 'signout.stayed.title'));

      await page.goto(`${kh.issuer}/session/end?${new URLSearchParams({ ui_locales: lang })}`);
      await page.getByRole('button', { name: msg(lang, 'signout.yes') }).click();
      await check('signed-out', msg(lang, 'signout.done.title'));

      await page.goto(authorize(kh, 'no-such-client', rp, { ui_locales: lang }));
      await check('provider-error', msg(lang, 'error.request.signin_title'));

      await page.goto(`${kh.origin}/no/such/page`);
      await check('not-found', msg(lang, 'error.not_found.title'));
      t.same(problems, [], 'no script errors or CSP violations');
    });

    await t.test(`${lang}: the form_post page without JavaScript`, async (t) => {
      const context = await browser.newContext({ locale: lang === 'en' ? 'en-US' : `${lang}-${lang.toUpperCase()}`, javaScriptEnabled: false });
      t.teardown(() => context.close());
      const hits = rp.hits.length;
      const { page, shot } = await openPage(t, browser, kh, `pages-${lang}-form-post`, { context });
      const document = lastDocument(page);
      const state = `state-${lang}`;
      await page.goto(authorize(kh, client.id, rp, { ui_locales: lang, response_mode: 'form_post', state }));
      await page.getByLabel(msg(lang, 'signin.username')).fill(user.username);
      await page.getByLabel(msg(lang, 'signin.password')).fill(user.password);
      await page.getByRole('button', { name: msg(lang, 'signin.submit') }).click();
      await page.getByRole('button', { name: msg(lang, 'formpost.continue') }).waitFor();
      await checkPage(t, page, document, { lang, heading: msg(lang, 'formpost.title', { app: 'Test app' }), label: 'form-post', shot, scriptsOff: true });
      t.equal(rp.hits.length, hits, 'nothing reached the app on its own');
      await page.getByRole('button', { name: msg(lang, 'formpost.continue') }).click();
      await page.waitForURL(rp.callback);
      const hit = rp.hits.at(-1);
      t.equal(rp.hits.length, hits + 1);
      t.equal(hit?.method, 'POST', 'Continue posts to the app');
      const body = new URLSearchParams(hit?.body ?? '');
      t.equal(body.get('state'), state);
      t.match(body.get('code'), /^\S{20,}$/);
    });
  }
});

t.test('ui_locales wins over Accept-Language; Accept-Language alone chooses otherwise', async (t) => {
  const kh = await startTestApp(t);
  const rp = await startRp(t);
  const client = await registerRp(kh, rp);
  const user = await createUser(kh.users);
  const browser = await launchChromium(t);
  const context = await browser.newContext({ locale: 'de-DE' });
  t.teardown(() => context.close());
  const { page } = await openPage(t, browser, kh, 'pages-language', { context });
  const lang = () => page.locator('html').getAttribute('lang');
  const heading = () => page.getByRole('heading', { level: 1 }).innerText();

  // A German browser, an app asking for French (then anything else, in order of preference).
  await page.goto(authorize(kh, client.id, rp, { ui_locales: 'xx fr-CA de' }));
  t.equal(await lang(), 'fr');
  t.equal(await heading(), msg('fr', 'signin.title'));
  await page.getByLabel(msg('fr', 'signin.username')).fill(user.username);
  await page.getByLabel(msg('fr', 'signin.password')).fill('wrong');
  await page.getByRole('button', { name: msg('fr', 'signin.submit') }).click();
  await page.getByRole('alert').waitFor();
  t.equal(await lang(), 'fr', 'the page after a wrong password keeps the language');
  t.equal(await page.getByRole('alert').innerText(), msg('fr', 'signin.wrong'));
  await page.getByLabel(msg('fr', 'signin.password')).fill(user.password);
  await page.getByRole('button', { name: msg('fr', 'signin.submit') }).click();
  await page.waitForURL((url) => url.href.startsWith(`${rp.callback}?`));
  await page.goBack();
  t.equal(await heading(), msg('fr', 'signin.done.title'), 'Back after signing in keeps the language');
  t.equal(await lang(), 'fr');

  await page.goto(`${kh.issuer}/session/end?${new URLSearchParams({ client_id: client.id, post_logout_redirect_uri: rp.signedOut, ui_locales: 'fr' })}`);
  t.equal(await lang(), 'fr');
  t.equal(await heading(), msg('fr', 'signout.title'));
  await page.getByRole('button', { name: msg('fr', 'signout.no') }).click();
  await page.getByRole('heading', { level: 1 }).waitFor();
  t.equal(await heading(), msg('fr', 'signout.stayed.title'), '"No" answers in the language the sign-out page asked in');
  t.equal(await lang(), 'fr');
  t.ok((await page.getByRole('link').getAttribute('href'))?.startsWith(`${rp.origin}/`), 'with the way back to the app');

  await page.goto(`${kh.issuer}/session/end?${new URLSearchParams({ ui_locales: 'fr' })}`);
  await page.getByRole('button', { name: msg('fr', 'signout.yes') }).click();
  await page.getByRole('heading', { level: 1, name: msg('fr', 'signout.done.title') }).waitFor();
  t.equal(await lang(), 'fr', '"Signed out" too');

  // Without ui_locales: the browser's language, here German.
  await page.goto(`${kh.origin}/interaction/unknown`);
  t.equal(await lang(), 'de');
  t.equal(await heading(), msg('de', 'signin.expired.title'));

  // Accept-Language as a header, weighted: French preferred over German.
  const weighted = await browser.newContext({ extraHTTPHeaders: { 'accept-language': 'it;q=1, de;q=0.5, fr;q=0.8' } });
  t.teardown(() => weighted.close());
  const other = await weighted.newPage();
  await other.goto(`${kh.origin}/no/such/page`);
  t.equal(await other.locator('html').getAttribute('lang'), 'fr');
  t.equal(await other.getByRole('heading', { level: 1 }).innerText(), msg('fr', 'error.not_found.title'));
  await other.goto(authorize(kh, 'no-such-client', rp));
  t.equal(await other.locator('html').getAttribute('lang'), 'fr', 'the provider error page too');
  t.equal(await other.getByRole('heading', { level: 1 }).innerText(), msg('fr', 'error.request.signin_title'));
});
