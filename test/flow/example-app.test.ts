import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium } from '../helpers/browser.ts';
import t from 'tap';
import { createExampleApp } from '../../examples/hybrid-web-app/app.ts';
import { freePort, startTestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';

/** The example app of examples/README.md, driven through headless Chromium against a real Keyhold. */

const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'flow');

t.test('the example app signs in, shows who is signed in, refreshes and signs out', async (t) => {
  const kh = await startTestApp(t);
  const { username, password } = await createUser(kh.users);
  const port = await freePort();
  // As in the tour: the app on the same host as Keyhold (another port), a loopback redirect URL (so the
  // client is native and PKCE is required).
  const appUrl = `http://127.0.0.1:${port}`;
  const { client, secret } = await createClient(kh.clients, {
    name: 'Example app',
    redirectUris: [`${appUrl}/callback`],
    postLogoutRedirectUris: [`${appUrl}/`],
    allowRefreshToken: true,
    accessTokenLifetime: 300,
  });
  const server = await createExampleApp({ issuer: kh.issuer, clientId: client.id, clientSecret: secret, appUrl });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const browser = await launchChromium(t);
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  await mkdir(ARTIFACTS, { recursive: true });
  const shot = (label: string) => page.screenshot({ path: join(ARTIFACTS, `example-${label}.png`) });
  t.teardown(async () => {
    if (!t.passing()) t.comment(`page ${page.url()}:\n${await page.locator('body').innerText().catch(() => '(no page)')}`);
  });

  await page.goto(appUrl);
  t.match(await page.locator('body').innerText(), /You are not signed in/);
  await page.getByRole('link', { name: 'Sign in with Keyhold' }).click();
  await page.waitForURL(/\/interaction\//);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await shot('1-sign-in');
  await page.getByRole('button', { name: 'Sign in' }).click();

  await page.locator('#who').waitFor();
  t.equal(page.url(), `${appUrl}/`);
  t.match(await page.locator('#who').innerText(), /Signed in as Test User/);
  t.equal(await page.locator('#username').innerText(), username);
  t.equal(await page.locator('#email').innerText(), `${username}@example.com`);
  t.match(await page.locator('#expiry').innerText(), /expires in (300|299|298) s/, 'the client lifetime');
  await shot('2-signed-in');

  await page.getByRole('button', { name: 'Refresh tokens' }).click();
  await page.locator('#refreshed').waitFor();
  t.match(await page.locator('#who').innerText(), /Signed in as Test User/, 'still signed in after a refresh');
  await shot('3-refreshed');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByText('You are not signed in').waitFor();
  t.equal(new URL(page.url()).origin, appUrl, 'back at the app after logging out at Keyhold');
  await shot('4-signed-out');

  // Signed out at Keyhold too: signing in again shows the sign-in page.
  await page.getByRole('link', { name: 'Sign in with Keyhold' }).click();
  await page.waitForURL(/\/interaction\//);
  t.ok(await page.getByLabel('Password').isVisible(), 'Keyhold asks for the password again');
});
