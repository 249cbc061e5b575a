import { createHash, randomBytes } from 'node:crypto';
import { AUDIT_EVENT_TYPES } from '../../src/audit.ts';
import { launchChromium } from '../helpers/browser.ts';
import t from 'tap';
import { endSession, openPage, signedInConsole, signIn, signInAgain, unlabelled } from '../helpers/console.ts';
import { adminToken } from '../helpers/admin.ts';

const APP_CALLBACK = 'https://app.example.com/callback';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { Agent, loginForm } from '../helpers/browserless.ts';
import { basicAuth, createUser } from '../helpers/fixtures.ts';

async function tokenRequest(kh: TestApp, clientId: string, secret: string, body: Record<string, string>) {
  return fetch(`${kh.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basicAuth(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body),
  });
}

/** Signs `username` in to the client over HTTP and returns the authorization code and its verifier. */
async function authorizationCode(kh: TestApp, clientId: string, username: string, password: string) {
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(`${kh.issuer}/auth`);
  auth.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: APP_CALLBACK,
    scope: 'openid profile',
    state: 'walk-through',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const agent = new Agent();
  const login = await agent.follow(auth.href, kh.origin);
  const { action, csrf } = loginForm(await login.response.text());
  const back = await agent.follow(new URL(action, kh.origin).href, kh.origin, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, csrf }).toString(),
  });
  const code = new URL(back.url).searchParams.get('code');
  if (!code) throw new Error(`no code: ${back.url}`);
  return { code, verifier };
}

t.test('the console page is strict about what it loads', async (t) => {
  const kh = await startTestApp(t);
  for (const path of ['/admin', '/admin/', '/admin/callback']) {
    const res = await fetch(`${kh.origin}${path}`);
    t.equal(res.status, 200, path);
    t.match(res.headers.get('content-type'), /^text\/html/);
    t.match(res.headers.get('content-security-policy'), /script-src 'self'/);
    t.notMatch(await res.text(), /<script>|\son\w+=/, 'no inline script or handlers');
  }
  const config = await (await fetch(`${kh.origin}/admin/config.json`)).json();
  t.same(config, {
    issuer: kh.issuer,
    clientId: 'keyhold-admin-console',
    redirectUri: `${kh.origin}/admin/callback`,
    postLogoutRedirectUri: `${kh.origin}/admin/`,
    auditEventTypes: [...AUDIT_EVENT_TYPES],
    roles: { admin: 'admin', resourceServer: 'resource-server' },
    adminScope: 'admin',
  });
  // The modules, revalidated on every use: a 304 without a body while they have not changed.
  for (const path of ['/admin/js/main.js', '/admin/js/pages/clients.js', '/admin/js/rules/client-rules.js', '/admin/console.css']) {
    const res = await fetch(`${kh.origin}${path}`);
    t.equal(res.status, 200, path);
    t.match(res.headers.get('content-type'), path.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
    t.equal(res.headers.get('cache-control'), 'no-cache');
    const etag = res.headers.get('etag');
    t.match(etag, /^"[\w-]+"$/);
    const again = await fetch(`${kh.origin}${path}`, { headers: { 'if-none-match': etag! } });
    t.equal(again.status, 304, `${path} unchanged`);
    t.equal(await again.text(), '');
  }
  t.equal((await fetch(`${kh.origin}/admin/js/nothing.js`)).status, 404);
});

t.test('a user without the admin role is told so (issuer below a path)', async (t) => {
  const kh = await startTestApp(t, { issuerPath: '/oidc' });
  const user = await createUser(kh.users);
  const browser = await launchChromium(t);
  const { page, problems, shot } = await openPage(t, browser, kh, 'non-admin');
  await signIn(page, kh, user.username, user.password);
  await page.getByRole('heading', { name: 'You need the admin role' }).waitFor();
  await shot('needs-admin-role');
  t.notOk(await page.getByRole('navigation', { name: 'Main' }).isVisible(), 'no navigation to admin pages');
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await page.getByRole('heading', { name: 'Signed out' }).waitFor();
  t.same(problems, [], 'no script errors or CSP violations');
});

t.test('the hybrid-client walk-through in a real browser', async (t) => {
  const kh = await startTestApp(t);
  const admin = await createUser(kh.users, { roles: ['admin'] });
  const browser = await launchChromium(t);
  const { page, problems, shot } = await openPage(t, browser, kh, 'walk-through');

  // Sign in through Keyhold's own authorization-code flow with PKCE.
  await page.goto(`${kh.origin}/admin`);
  await page.waitForURL(/\/interaction\//);
  await page.getByLabel('Username').fill(admin.username);
  await page.getByLabel('Password').fill(admin.password);
  await shot('sign-in');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${kh.origin}/admin/#/clients`);

  // Security > Clients, Client Type: Hybrid, Add Client.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('heading', { name: 'Clients', level: 1 }).waitFor();
  await page.getByLabel('Client Type').selectOption({ label: 'Hybrid' });
  await page.getByText('No hybrid clients yet').waitFor();
  await shot('clients-empty');
  t.same(await unlabelled(page), [], 'every input on the list has a label');
  // The keyboard alone reaches Add Client: the type, the search box, then the button.
  await page.getByLabel('Client Type').focus();
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.id), 'client-search', 'Tab moves from the type to the search box');
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Add Client', 'and on to Add Client');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Add Hybrid Client' }).waitFor();
  t.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement).labels?.[0]?.textContent), 'Name', 'the name has focus');

  // The form: name, Allow Refresh Token, URLs added with +, Token Lifetime.
  const form = page.locator('#client-pane');
  t.equal(await form.getByLabel('Token Lifetime (seconds)').inputValue(), '3600', 'the lifetime defaults to 3600');
  t.match(await form.textContent(), /Avoid selecting this if there is no need to refresh tokens/i, 'the refresh-token note is shown');
  await page.keyboard.type('Walk-through app');
  await form.getByLabel('Allow Refresh Token').check();
  const redirect = form.getByLabel('Allowed Redirect URL(s)', { exact: true });
  await form.getByLabel('Allowed Logout Redirect URL(s)', { exact: true }).fill('https://app.example.com/signed-out');
  await form.getByLabel('Allowed Logout Redirect URL(s)', { exact: true }).press('Enter');
  await form.getByLabel('Token Lifetime (seconds)').fill('900');
  t.same(await unlabelled(page), [], 'every input in the form has a label');
  await shot('add-client-form');

  // A bad redirect URL is refused as it is added, beside the field, in words; it is not listed.
  await redirect.fill('http://app.example.com/callback');
  await form.getByRole('button', { name: 'Add to Allowed Redirect URL(s)' }).click();
  const redirectError = form.locator('[data-path="redirectUris"] .error');
  await redirectError.waitFor();
  t.match(await redirectError.textContent(), /http:\/\/app\.example\.com\/callback.*Use https/, 'the error names the URL and the rule');
  t.equal(await redirect.getAttribute('aria-invalid'), 'true');
  t.match(await redirect.getAttribute('aria-describedby'), await redirectError.getAttribute('id'), 'the input is described by its error');
  t.equal(await redirect.inputValue(), 'http://app.example.com/callback', 'what was typed stays in the box to correct');
  t.equal(await form.getByRole('list', { name: 'Allowed Redirect URL(s) list' }).textContent(), 'None yet.', 'and nothing was listed');
  await shot('bad-redirect-url');
  await redirect.fill(APP_CALLBACK);
  await form.getByRole('button', { name: 'Add to Allowed Redirect URL(s)' }).click();
  t.equal(await redirect.getAttribute('aria-invalid'), null, 'the error goes once the URL is accepted');
  t.equal(await form.getByRole('list', { name: 'Allowed Redirect URL(s) list' }).getByRole('listitem').textContent(), `${APP_CALLBACK}Remove`);

  // Add, then the Add Secret window: description, expiry a year from today, Never Expires.
  await form.getByRole('button', { name: 'Add', exact: true }).click();
  let dialog = page.getByRole('dialog', { name: 'Add Secret' });
  await dialog.waitFor();
  const inAYear = new Date();
  inAYear.setFullYear(inAYear.getFullYear() + 1);
  const expiry = dialog.getByLabel('Expiration date');
  t.equal(await expiry.inputValue(), inAYear.toISOString().slice(0, 10), 'the secret expires in a year by default');
  await dialog.getByLabel('Never Expires').check();
  t.ok(await expiry.isDisabled(), 'Never Expires turns the date off');
  await dialog.getByLabel('Never Expires').uncheck();
  // From here to Close, the keyboard alone: type the description, Enter adds.
  await dialog.getByLabel('Description').focus();
  await page.keyboard.type('Production web server');
  t.same(await unlabelled(page), [], 'every input in the Add Secret window has a label');
  await shot('add-secret');
  await page.keyboard.press('Enter');

  // Client Successfully Created: copy the id and the secret with the Copy buttons.
  const created = page.getByRole('dialog', { name: 'Client Successfully Created' });
  await created.waitFor();
  t.match(await created.textContent(), /Once this window is closed, the client secret cannot be accessed or retrieved/);
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent);
  t.equal(await focused(), 'Copy Client Id', 'the first Copy button has focus');
  await page.keyboard.press('Enter');
  const clientId = await page.evaluate(() => navigator.clipboard.readText());
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  t.equal(await focused(), 'Copy Client Secret');
  await page.keyboard.press('Enter');
  const secret = await page.evaluate(() => navigator.clipboard.readText());
  t.match(clientId, /^[0-9a-f-]{36}$/, 'the client id came from the clipboard');
  t.ok(secret.length >= 43, 'the secret came from the clipboard');
  t.equal(await created.getByLabel('Client Id', { exact: true }).inputValue(), clientId);
  await shot('client-created');
  await page.keyboard.press('Tab');
  t.equal(await focused(), 'Close');
  await page.keyboard.press('Enter');
  await created.waitFor({ state: 'detached' });

  // The copied id and secret work at the token endpoint.
  const { code, verifier } = await authorizationCode(kh, clientId, admin.username, admin.password);
  const tokens = await tokenRequest(kh, clientId, secret, { grant_type: 'authorization_code', code, redirect_uri: APP_CALLBACK, code_verifier: verifier });
  t.equal(tokens.status, 200, 'the copied client id and secret get tokens');
  const body = await tokens.json();
  t.equal(body.expires_in, 900, 'with the token lifetime set in the form');

  // The list and the Details pane: settings and the secret.
  const details = page.locator('#client-pane');
  await details.getByRole('heading', { name: 'Walk-through app' }).waitFor();
  t.equal(await page.locator('#clients-table tbody tr').count(), 1, 'the new client is listed');
  t.equal(await details.locator('#details-client-id').textContent(), clientId);
  const secretRow = details.locator('#secrets-table tbody tr');
  t.equal(await secretRow.count(), 1);
  t.match(await secretRow.textContent(), /Production web server/);
  await page.waitForTimeout(100);
  await shot('details');

  // Edit the client.
  await details.getByRole('button', { name: 'Edit' }).click();
  await details.getByLabel('Name', { exact: true }).fill('Walk-through app (renamed)');
  await details.getByLabel('Token Lifetime (seconds)').fill('30');
  await details.getByRole('button', { name: 'Save' }).click();
  const lifetimeError = details.locator('[data-path="accessTokenLifetime"] .error');
  await lifetimeError.waitFor();
  t.match(await lifetimeError.textContent(), /60/, 'a lifetime below 60 is refused beside the field');
  await shot('edit-error');
  await details.getByLabel('Token Lifetime (seconds)').fill('600');
  await details.getByRole('button', { name: 'Save' }).click();
  await details.getByRole('heading', { name: 'Walk-through app (renamed)' }).waitFor();
  t.match(await details.textContent(), /600 seconds/);
  await shot('edited');

  // Rotate the secret: add a new one (shown once), remove the old one.
  await details.getByRole('button', { name: 'Add Secret' }).click();
  dialog = page.getByRole('dialog', { name: 'Add Secret' });
  await dialog.getByLabel('Description').fill('Rotated secret');
  await dialog.getByLabel('Never Expires').check();
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  const added = page.getByRole('dialog', { name: 'Secret Successfully Added' });
  await added.waitFor();
  await added.getByRole('button', { name: 'Copy Client Secret' }).click();
  const rotated = await page.evaluate(() => navigator.clipboard.readText());
  t.not(rotated, secret);
  await shot('secret-added');
  await added.getByRole('button', { name: 'Close' }).click();
  await details.locator('#secrets-table tbody tr').nth(1).waitFor();
  await details.getByRole('button', { name: 'Remove secret Production web server' }).click();
  const confirm = page.getByRole('dialog', { name: 'Remove secret' });
  await shot('remove-secret');
  await confirm.getByRole('button', { name: 'Remove' }).click();
  await details.getByRole('button', { name: 'Remove secret Production web server' }).waitFor({ state: 'detached' });
  t.equal(await details.locator('#secrets-table tbody tr').count(), 1, 'one secret left');
  t.match(await details.locator('#secrets-table').textContent(), /Rotated secret.*Never/);
  await shot('rotated');
  const bogus = { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: APP_CALLBACK, code_verifier: verifier };
  t.equal((await tokenRequest(kh, clientId, secret, bogus)).status, 401, 'the removed secret is refused');
  t.equal((await (await tokenRequest(kh, clientId, rotated, bogus)).json()).error, 'invalid_grant', 'the new secret authenticates');

  // Remove the client.
  await details.getByRole('button', { name: 'Delete Client' }).click();
  await page.getByRole('dialog', { name: 'Delete client' }).getByRole('button', { name: 'Delete' }).click();
  await page.getByText('No hybrid clients yet').waitFor();
  await shot('deleted');
  t.equal((await tokenRequest(kh, clientId, rotated, bogus)).status, 401, 'the deleted client is refused');

  // Sign out through the end-session endpoint.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Signed out' }).waitFor();
  await shot('signed-out');
  t.same(problems, [], 'no script errors or CSP violations');
});

t.test('the other client types: client credentials (with a secret) and authorization code (public)', async (t) => {
  const { kh, page, problems, shot } = await signedInConsole(t, 'other-types');
  await page.waitForURL(`${kh.origin}/admin/#/clients`);

  await page.getByLabel('Client Type').selectOption({ label: 'Client Credentials' });
  await page.getByText('No client credentials clients yet').waitFor();
  await page.getByRole('button', { name: 'Add Client' }).click();
  const pane = page.locator('#client-pane');
  await pane.getByRole('heading', { name: 'Add Client Credentials Client' }).waitFor();
  t.notOk(await pane.getByText('Allowed Redirect URL(s)').count(), 'no redirect URLs for a machine client');
  await pane.getByLabel('Name', { exact: true }).fill('Nightly sync');
  await pane.getByLabel(/Administrator/).check();
  await shot('client-credentials-form');
  await pane.getByRole('button', { name: 'Add', exact: true }).click();
  const secretDialog = page.getByRole('dialog', { name: 'Add Secret' });
  await secretDialog.getByLabel('Description').fill('CI');
  await secretDialog.getByRole('button', { name: 'Add', exact: true }).click();
  const created = page.getByRole('dialog', { name: 'Client Successfully Created' });
  const clientId = await created.getByLabel('Client Id', { exact: true }).inputValue();
  const secret = await created.getByLabel('Client Secret', { exact: true }).inputValue();
  await shot('client-credentials-created');
  await created.getByRole('button', { name: 'Close' }).click();
  await pane.getByRole('heading', { name: 'Nightly sync' }).waitFor();

  const tokens = await tokenRequest(kh, clientId, secret, { grant_type: 'client_credentials', scope: 'admin' });
  t.equal(tokens.status, 200, 'the client gets a token with scope admin');
  const { access_token } = await tokens.json();
  const listed = await fetch(`${kh.origin}/api/v1/clients?type=client-credentials`, { headers: { authorization: `Bearer ${access_token}` } });
  t.equal(listed.status, 200, 'and calls the admin API with it');
  t.equal((await listed.json()).items[0]?.id, clientId);

  await page.getByLabel('Client Type').selectOption({ label: 'Authorization Code' });
  await page.getByRole('button', { name: 'Add Client' }).click();
  await pane.getByRole('heading', { name: 'Add Authorization Code Client' }).waitFor();
  await pane.getByLabel('Name', { exact: true }).fill('Single-page app');
  await pane.getByLabel('Allowed Redirect URL(s)', { exact: true }).fill('https://spa.example.com/callback');
  await pane.getByLabel('Allowed CORS origin(s)', { exact: true }).fill('https://spa.example.com/');
  await pane.getByRole('button', { name: 'Add', exact: true }).click();
  const corsError = pane.locator('[data-path="allowedCorsOrigins"] .error');
  await corsError.waitFor();
  t.match(await corsError.textContent(), /https:\/\/spa\.example\.com\/.*Write it as https:\/\/spa\.example\.com$/, 'a path on an origin is refused beside the field, before anything is sent');
  t.equal(await pane.getByRole('list', { name: 'Allowed CORS origin(s) list' }).textContent(), 'None yet.');
  await pane.getByLabel('Allowed CORS origin(s)', { exact: true }).fill('https://spa.example.com');
  await pane.getByRole('button', { name: 'Add', exact: true }).click();
  const publicCreated = page.getByRole('dialog', { name: 'Client Successfully Created' });
  await publicCreated.waitFor();
  t.equal(await publicCreated.getByLabel('Client Secret', { exact: true }).count(), 0, 'a public client has no secret to show');
  await shot('authorization-code-created');
  await publicCreated.getByRole('button', { name: 'Close' }).click();
  await pane.getByRole('heading', { name: 'Single-page app' }).waitFor();
  t.notOk(await pane.getByRole('button', { name: 'Add Secret' }).count(), 'and no secrets section');
  t.same(problems, [], 'no script errors or CSP violations');
});

t.test('the Users page: add, disable, reset a password', async (t) => {
  const { kh, admin, page, problems, shot } = await signedInConsole(t, 'users');
  await page.waitForURL(`${kh.origin}/admin/#/clients`);
  await page.getByRole('link', { name: 'Users' }).click();
  const table = page.locator('#users-table');
  await table.locator(`tr[data-username="${admin.username}"]`).waitFor();
  await shot('list');

  await page.getByRole('button', { name: 'Add User' }).click();
  const pane = page.locator('#user-pane');
  await pane.getByLabel('Username', { exact: true }).fill('ada');
  await pane.getByLabel('Name', { exact: true }).fill('Ada Lovelace');
  await pane.getByLabel('Email', { exact: true }).fill('not-an-email');
  await pane.getByLabel('Password', { exact: true }).fill('first password, long enough');
  t.same(await unlabelled(page), [], 'every input has a label');
  await pane.getByRole('button', { name: 'Add', exact: true }).click();
  const emailError = pane.locator('[data-path="email"] .error');
  await emailError.waitFor();
  await shot('add-error');
  await pane.getByLabel('Email', { exact: true }).fill('ada@example.com');
  await pane.getByRole('button', { name: 'Add', exact: true }).click();
  const row = table.locator('tr[data-username="ada"]');
  await row.waitFor();
  await shot('added');

  await row.getByRole('button', { name: 'Disable ada' }).click();
  await row.getByText('Disabled').waitFor();
  const ada = await kh.users.findCredentials('ada');
  t.equal(ada?.user.disabled, true, 'the user is disabled');
  await shot('disabled');
  await row.getByRole('button', { name: 'Enable ada' }).click();
  await row.getByText('Active').waitFor();

  // Ten wrong passwords lock ada; the list shows it, and Unlock ends it.
  for (let i = 0; i < 10; i++) {
    const agent = new Agent();
    const auth = new URL(`${kh.issuer}/auth`);
    auth.search = new URLSearchParams({
      client_id: 'keyhold-admin-console',
      response_type: 'code',
      redirect_uri: `${kh.origin}/admin/callback`,
      scope: 'openid',
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    const signInPage = await agent.follow(auth.href, kh.origin);
    const form = loginForm(await signInPage.response.text());
    await agent.fetch(new URL(form.action, kh.origin).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'ada', password: `wrong guess ${i}`, csrf: form.csrf }).toString(),
    });
  }
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('heading', { name: 'Clients', level: 1 }).waitFor();
  await page.getByRole('link', { name: 'Users' }).click();
  await row.getByText('Locked').waitFor();
  await shot('locked');
  await row.getByRole('button', { name: 'Unlock ada' }).click();
  await row.getByRole('button', { name: 'Unlock ada' }).waitFor({ state: 'detached' });
  t.equal(await row.getByText('Locked').count(), 0, 'the lock badge is gone');
  const { rowCount: failures } = await kh.db.pool.query('SELECT 1 FROM signin_failures');
  t.equal(failures, 0, 'the failure count is reset');

  // The Audit page shows what just happened, filtered by type.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
  await page.getByRole('heading', { name: 'Audit', level: 1 }).waitFor();
  const audit = page.locator('#audit-table');
  await audit.locator('tr[data-type="user.created"]').first().waitFor();
  await page.getByLabel('Type').selectOption('user.unlocked');
  await page.getByRole('button', { name: 'Filter' }).click();
  const unlocked = audit.locator('tbody tr');
  await unlocked.first().waitFor();
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#audit-table tbody tr')).every((row) => row.getAttribute('data-type') === 'user.unlocked'));
  t.equal(await unlocked.count(), 1, 'one unlock');
  t.match(await unlocked.first().innerText(), new RegExp(`user ${admin.username}[\\s\\S]*user ada`), 'by the administrator, about ada');
  t.same(await unlabelled(page), [], 'every filter has a label');
  await shot('audit');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  await row.waitFor();

  await row.getByRole('button', { name: 'Reset password ada' }).click();
  const dialog = page.getByRole('dialog', { name: 'Reset password' });
  await dialog.getByLabel('New password').fill('second password, long enough');
  await shot('reset-password');
  await dialog.getByRole('button', { name: 'Reset password' }).click();
  await page.locator('#main .form-message').getByText('The password of ada was reset.').waitFor();

  // The new password signs in; the old one does not.
  const agent = new Agent();
  const auth = new URL(`${kh.issuer}/auth`);
  const verifier = randomBytes(32).toString('base64url');
  auth.search = new URLSearchParams({
    client_id: 'keyhold-admin-console',
    response_type: 'code',
    redirect_uri: `${kh.origin}/admin/callback`,
    scope: 'openid',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const login = await agent.follow(auth.href, kh.origin);
  const { action, csrf } = loginForm(await login.response.text());
  const post = (password: string) =>
    agent.fetch(new URL(action, kh.origin).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'ada', password, csrf }).toString(),
    });
  const old = await post('first password, long enough');
  t.equal(old.status, 303);
  t.match(old.headers.get('location'), /\/interaction\/[^/]+$/, 'the old password is refused: back to the sign-in page');
  t.equal((await post('second password, long enough')).status, 303, 'the new password signs in');
  t.same(problems, [], 'no script errors or CSP violations');
});

t.test('Add User: a draft comes back saying so; when the session ends mid-save, signing in again adds the user, asking for the password again if one was typed', async (t) => {
  const { kh, admin, page, problems, shot } = await signedInConsole(t, 'add-user-resumes');
  const pane = page.locator('#user-pane');
  const table = page.locator('#users-table');
  await page.goto(`${kh.origin}/admin/#/users/new`);
  await pane.getByLabel('Username', { exact: true }).fill('grace');
  await pane.getByLabel('Name', { exact: true }).fill('Grace Hopper');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('heading', { name: 'Clients', level: 1 }).waitFor();
  await page.goBack();
  await pane.getByRole('heading', { name: 'Add User' }).waitFor();
  t.equal(await pane.getByLabel('Username', { exact: true }).inputValue(), 'grace', 'the draft is restored');
  t.match(await pane.locator('p.note').textContent(), /Restored what you entered/, 'and the form says so');

  // No password typed: after signing in again, the form completes the save by itself.
  await endSession(t, kh, page);
  await pane.getByRole('button', { name: 'Add', exact: true }).click();
  const message = pane.locator('.form-message');
  await message.getByText('Your session has ended').waitFor();
  await shot('session-ended');
  t.equal(await kh.users.findCredentials('grace'), undefined, 'nothing was added yet');
  await message.getByRole('button', { name: 'Sign in again' }).click();
  await signInAgain(page, admin);
  await table.locator('tr[data-username="grace"]').waitFor();
  t.equal((await kh.users.findCredentials('grace'))?.user.name, 'Grace Hopper', 'the save resumed after signing in');

  // A password typed: it is never kept, so the form asks for it once more, with everything else back.
  await page.getByRole('button', { name: 'Add User' }).click();
  await pane.getByLabel('Username', { exact: true }).fill('ada');
  await pane.getByLabel('Email', { exact: true }).fill('ada@example.com');
  await pane.getByLabel('Password', { exact: true }).fill('typed before the session ended');
  t.notMatch(await page.evaluate(() => sessionStorage.getItem('keyhold.console.drafts')), /typed before/, 'the password is not in the draft');
  await endSession(t, kh, page);
  await pane.getByRole('button', { name: 'Add', exact: true }).click();
  await message.getByRole('button', { name: 'Sign in again' }).click();
  await signInAgain(page, admin);
  await message.getByText('enter it again').waitFor();
  await shot('password-again');
  t.equal(await pane.getByLabel('Email', { exact: true }).inputValue(), 'ada@example.com', 'the rest is back');
  t.equal(await pane.getByLabel('Password', { exact: true }).inputValue(), '', 'the password is not');
  t.equal(await page.evaluate(() => document.activeElement?.getAttribute('type')), 'password', 'and has focus');
  t.equal(await kh.users.findCredentials('ada'), undefined, 'nothing was added without it');
  await pane.getByLabel('Password', { exact: true }).fill('typed again after signing in');
  await pane.getByRole('button', { name: 'Add', exact: true }).click();
  await table.locator('tr[data-username="ada"]').waitFor();
  t.equal((await kh.users.findCredentials('ada'))?.user.email, 'ada@example.com', 'then the user is added');

  // Reset password when the session has ended: said in the window, with the way to sign in again.
  await table.locator('tr[data-username="ada"]').getByRole('button', { name: 'Reset password ada' }).click();
  const reset = page.getByRole('dialog', { name: 'Reset password' });
  await reset.getByLabel('New password').fill('a reset that must wait');
  const hashBefore = (await kh.users.findCredentials('ada'))?.passwordHash;
  await endSession(t, kh, page);
  await reset.getByRole('button', { name: 'Reset password' }).click();
  await reset.locator('.form-message').getByText('Your session has ended').waitFor();
  t.equal(await reset.getByLabel('New password').inputValue(), 'a reset that must wait', 'the window stays as it was');
  await reset.getByRole('button', { name: 'Sign in again' }).click();
  await signInAgain(page, admin);
  await table.locator('tr[data-username="ada"]').waitFor();
  t.equal((await kh.users.findCredentials('ada'))?.passwordHash, hashBefore, 'signed in again, back on the Users page, the password unchanged');
  t.notMatch(await page.evaluate(() => JSON.stringify(sessionStorage)), /a reset that must wait/, 'the password was never kept');
  t.same(problems, []);
});

t.test('Users: a Delete refused because the user changed meanwhile says so, and focus goes to the message', async (t) => {
  const kh = await startTestApp(t);
  const admin = await createUser(kh.users, { roles: ['admin'] });
  const victim = await createUser(kh.users, { username: 'victim' });
  const { api } = await adminToken(kh);
  const browser = await launchChromium(t);
  const { page, problems } = await openPage(t, browser, kh, 'user-delete-refused');
  await signIn(page, kh, admin.username, admin.password);
  await page.goto(`${kh.origin}/admin/#/users`);
  const row = page.locator('tr[data-username="victim"]');
  await row.waitFor();
  const { version } = (await api('GET', `/users/${victim.user.id}`)).body;
  t.equal((await api('PATCH', `/users/${victim.user.id}`, { name: 'Changed elsewhere' }, { headers: { 'if-match': `"${version}"` } })).status, 200, 'changed elsewhere');

  await row.getByRole('button', { name: 'Delete victim' }).click();
  await page.getByRole('dialog', { name: 'Delete user' }).getByRole('button', { name: 'Delete' }).click();
  await row.getByText('Changed elsewhere').waitFor();
  const message = page.locator('#main > .form-message');
  t.match(await message.textContent(), /Someone else changed this user/, 'the refusal is said');
  t.equal(await page.evaluate(() => document.activeElement?.classList.contains('form-message')), true, 'and focus is on it, not on Add User');
  t.ok(await kh.users.findCredentials('victim'), 'the user is still there');
  t.same(problems, []);
});
