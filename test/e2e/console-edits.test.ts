import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { startTestApp } from '../helpers/app.ts';
import { adminToken } from '../helpers/admin.ts';
import { endSession, openPage, signedInConsole, signIn, signInAgain } from '../helpers/console.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';

/**
 * The console never loses an edit: selecting always routes, a change made elsewhere meanwhile is shown
 * (412) instead of undone, an ended session resumes the save, a stopped Keyhold keeps every input, and
 * URL lists apply the API's rules as items are added.
 */

const pane = (page: Page) => page.locator('#client-pane');
const clientLink = (page: Page, id: string) => page.locator(`#clients-table a[data-client-id="${id}"]`);

/** A Keyhold with one hybrid client, and an administrator signed in to the console in Chromium. */
async function consoleWithClient(t: Test, name: string, screenshots: string) {
  const signedIn = await signedInConsole(t, screenshots, async (kh) => (await createClient(kh.clients, { name })).client);
  const { api } = await adminToken(signedIn.kh);
  return { ...signedIn, client: signedIn.prepared, api };
}

t.test('selecting a client always shows it: after Add then Cancel, after Add then its name, with Back and Forward', async (t) => {
  const kh = await startTestApp(t);
  const admin = await createUser(kh.users, { roles: ['admin'] });
  const { client } = await createClient(kh.clients, { name: 'Payroll' });
  const browser = await launchChromium(t);
  const { page, problems } = await openPage(t, browser, kh, 'selection');
  await signIn(page, kh, admin.username, admin.password);
  const title = pane(page).getByRole('heading', { level: 2 });
  /** The Details pane shows the client: its heading, and its id among the settings. */
  const showsPayroll = async () => [await title.textContent(), await pane(page).locator('#details-client-id').textContent()];

  await clientLink(page, client.id).click();
  await title.filter({ hasText: 'Payroll' }).waitFor();
  await page.getByRole('button', { name: 'Add Client' }).click();
  await title.filter({ hasText: 'Add Hybrid Client' }).waitFor();
  await pane(page).getByRole('button', { name: 'Cancel' }).click();
  await pane(page).waitFor({ state: 'hidden' });
  await clientLink(page, client.id).click();
  await title.filter({ hasText: 'Payroll' }).waitFor();
  t.same(await showsPayroll(), ['Payroll', client.id], 'Add, Cancel, then the client: its Details pane opens');

  await page.getByRole('button', { name: 'Add Client' }).click();
  await title.filter({ hasText: 'Add Hybrid Client' }).waitFor();
  await clientLink(page, client.id).click();
  await title.filter({ hasText: 'Payroll' }).waitFor();
  t.same(await showsPayroll(), ['Payroll', client.id], 'Add, then the client: its Details pane opens');
  t.equal(await clientLink(page, client.id).getAttribute('aria-current'), 'true', 'and the list marks it');

  await page.goBack();
  await title.filter({ hasText: 'Add Hybrid Client' }).waitFor();
  t.equal(new URL(page.url()).hash, '#/clients/new?type=hybrid', 'Back returns to the Add form');
  await page.goForward();
  await title.filter({ hasText: 'Payroll' }).waitFor();
  t.same(await showsPayroll(), ['Payroll', client.id], 'and Forward to the client');

  // A slow answer never paints over a later choice: another type is chosen (its list is slow to come),
  // then Add Client at once; the Add form stays open when the list arrives.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/api/v1/clients?type=authorization-code*', async (route) => {
    await held;
    await route.continue();
  });
  await page.getByLabel('Client Type').selectOption({ label: 'Authorization Code' });
  await page.getByRole('button', { name: 'Add Client' }).click();
  await title.filter({ hasText: 'Add Authorization Code Client' }).waitFor();
  release();
  await page.getByText('No authorization code clients yet').waitFor();
  t.ok(await pane(page).getByLabel('Name', { exact: true }).isVisible(), 'the Add form is still open once the list came');
  t.equal(new URL(page.url()).hash, '#/clients/new?type=authorization-code');
  t.same(problems, []);
});

t.test('two tabs edit one client: the later save shows what changed meanwhile, and reapplying keeps both', async (t) => {
  const kh = await startTestApp(t);
  const admin = await createUser(kh.users, { roles: ['admin'] });
  const { client } = await createClient(kh.clients, { name: 'Payroll', accessTokenLifetime: 3600 });
  const { api } = await adminToken(kh);
  const browser = await launchChromium(t);
  const { page: one, problems, shot } = await openPage(t, browser, kh, 'two-tabs');
  await signIn(one, kh, admin.username, admin.password);
  // A second tab of the same browser: signed in already (the provider's session), its own sessionStorage.
  const { page: two } = await openPage(t, browser, kh, 'two-tabs-second', { context: one.context() });
  const edit = `${kh.origin}/admin/#/clients/${client.id}/edit`;
  await one.goto(edit);
  await two.goto(edit);
  await pane(one).getByRole('heading', { name: 'Edit Payroll' }).waitFor();
  await pane(two).getByRole('heading', { name: 'Edit Payroll' }).waitFor();

  await pane(one).getByLabel('Name', { exact: true }).fill('Payroll (renamed)');
  await pane(one).getByRole('button', { name: 'Save' }).click();
  await pane(one).getByRole('heading', { name: 'Payroll (renamed)', exact: true }).waitFor();

  await pane(two).getByLabel('Token Lifetime (seconds)').fill('600');
  await pane(two).getByRole('button', { name: 'Save' }).click();
  const conflict = pane(two).locator('.conflict');
  await conflict.waitFor();
  await shot('conflict');
  t.match(await conflict.textContent(), /Someone else changed this client/);
  t.match(await conflict.textContent(), /Name: Payroll → Payroll \(renamed\)/, 'their change is shown');
  t.match(await conflict.textContent(), /Token Lifetime: 3600 → 600/, 'and this tab’s');
  let stored = await api('GET', `/clients/${client.id}`);
  t.same([stored.body.name, stored.body.accessTokenLifetime], ['Payroll (renamed)', 3600], 'nothing was overwritten');

  await conflict.getByRole('button', { name: 'Save my changes again' }).click();
  await pane(two).getByRole('heading', { name: 'Payroll (renamed)', exact: true }).waitFor();
  t.match(await pane(two).locator('dl.settings').textContent(), /Token Lifetime600 seconds/);
  stored = await api('GET', `/clients/${client.id}`);
  t.same([stored.body.name, stored.body.accessTokenLifetime], ['Payroll (renamed)', 600], 'both changes are kept');

  // Both tabs change the same field: the clash is named, and discarding keeps theirs.
  await one.goto(edit);
  await two.goto(edit);
  await pane(one).getByLabel('Name', { exact: true }).fill('Payroll one');
  await pane(two).getByLabel('Name', { exact: true }).fill('Payroll two');
  await pane(one).getByRole('button', { name: 'Save' }).click();
  await pane(one).getByRole('heading', { name: 'Payroll one', exact: true }).waitFor();
  await pane(two).getByRole('button', { name: 'Save' }).click();
  await conflict.waitFor();
  t.match(await conflict.textContent(), /Name: Payroll \(renamed\) → Payroll one \(you changed it too\)/);
  await conflict.getByRole('button', { name: 'Discard my changes' }).click();
  await pane(two).getByRole('heading', { name: 'Payroll one', exact: true }).waitFor();
  t.equal((await api('GET', `/clients/${client.id}`)).body.name, 'Payroll one');
  t.same(problems, []);
});

t.test('the session ends while an edit is open: the form stays, and the save goes through after signing in again', async (t) => {
  const { kh, admin, client, api, page, problems, shot } = await consoleWithClient(t, 'Payroll', 'session-ends');
  await page.goto(`${kh.origin}/admin/#/clients/${client.id}/edit`);
  await pane(page).getByLabel('Name', { exact: true }).fill('Payroll (after sign-in)');
  await pane(page).getByLabel('Allowed Logout Redirect URL(s)', { exact: true }).fill('https://app.example.com/bye');

  await endSession(t, kh, page);
  await pane(page).getByRole('button', { name: 'Save' }).click();
  const message = pane(page).locator('.form-message');
  await message.getByText('Your session has ended').waitFor();
  await shot('session-ended');
  t.equal(await pane(page).getByLabel('Name', { exact: true }).inputValue(), 'Payroll (after sign-in)', 'the form keeps the edit');
  t.equal((await api('GET', `/clients/${client.id}`)).body.name, 'Payroll', 'nothing was saved yet');

  await message.getByRole('button', { name: 'Sign in again' }).click();
  await signInAgain(page, admin);
  await pane(page).getByRole('heading', { name: 'Payroll (after sign-in)', exact: true }).waitFor();
  const stored = (await api('GET', `/clients/${client.id}`)).body;
  t.equal(stored.name, 'Payroll (after sign-in)', 'the save resumed after signing in');
  t.same(stored.postLogoutRedirectUris, ['https://app.example.com/signed-out', 'https://app.example.com/bye'], 'with the URL typed but not yet added');
  t.same(problems, []);
});

t.test('the session ends while the Add Secret window is open: it reopens with its input after a reload and after signing in, and the secret is added', async (t) => {
  const { kh, admin, client, api, page, problems, shot } = await consoleWithClient(t, 'Ledger', 'secret-session-ends');
  await page.goto(`${kh.origin}/admin/#/clients/${client.id}`);
  await pane(page).getByRole('button', { name: 'Add Secret' }).click();
  let dialog = page.getByRole('dialog', { name: 'Add Secret' });
  await dialog.getByLabel('Description').fill('Rotation of December');
  await dialog.getByLabel('Never Expires').check();

  // A reload with the window open: it opens again, as it was.
  await page.reload();
  dialog = page.getByRole('dialog', { name: 'Add Secret' });
  await dialog.waitFor();
  t.equal(await dialog.getByLabel('Description').inputValue(), 'Rotation of December', 'the description is back after a reload');
  t.ok(await dialog.getByLabel('Never Expires').isChecked(), 'so is Never Expires');
  t.match(await dialog.locator('.form-message').textContent(), /Restored what you entered/, 'and the window says so');

  await endSession(t, kh, page);
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await dialog.locator('.form-message').getByText('Your session has ended').waitFor();
  await shot('secret-session-ended');
  t.equal((await api('GET', `/clients/${client.id}`)).body.secrets.length, 1, 'no secret added yet');

  await dialog.getByRole('button', { name: 'Sign in again' }).click();
  await signInAgain(page, admin);
  const added = page.getByRole('dialog', { name: 'Secret Successfully Added' });
  await added.waitFor();
  const secrets = (await api('GET', `/clients/${client.id}`)).body.secrets as Array<{ description?: string; expiresAt?: string | null }>;
  t.equal(secrets.length, 2, 'the add resumed after signing in');
  const fresh = secrets.find((s) => s.description === 'Rotation of December');
  t.ok(fresh, 'with the description typed before the session ended');
  t.notOk(fresh?.expiresAt, 'and Never Expires');
  await added.getByRole('button', { name: 'Close' }).click();
  await page.reload();
  await pane(page).getByRole('heading', { name: 'Ledger', exact: true }).waitFor();
  t.equal(await page.getByRole('dialog', { name: 'Add Secret' }).count(), 0, 'once added, the window does not come back');
  t.same(problems, []);
});

t.test('Keyhold stops mid-form: every input stays, it says so plainly, and Add works once Keyhold is back', async (t) => {
  const first = await startTestApp(t);
  const admin = await createUser(first.users, { roles: ['admin'] });
  const browser = await launchChromium(t);
  const { page, problems, shot } = await openPage(t, browser, first, 'keyhold-stopped');
  await signIn(page, first, admin.username, admin.password);
  await page.getByRole('button', { name: 'Add Client' }).click();
  const form = pane(page);
  await form.getByLabel('Name', { exact: true }).fill('Offline app');
  await form.getByLabel('Allowed Redirect URL(s)', { exact: true }).fill('https://app.example.com/callback');
  await form.getByLabel('Allowed Redirect URL(s)', { exact: true }).press('Enter');
  await form.getByLabel('Token Lifetime (seconds)').fill('900');
  await form.getByRole('button', { name: 'Add', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Add Secret' });
  await dialog.getByLabel('Description').fill('Kept through the outage');
  await dialog.getByLabel('Never Expires').check();

  await first.app.close();
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await dialog.locator('.form-message').getByText('Keyhold cannot be reached').waitFor();
  await shot('unreachable');
  t.equal(await dialog.getByLabel('Description').inputValue(), 'Kept through the outage', 'the window keeps its input');
  t.ok(await dialog.getByLabel('Never Expires').isChecked());
  t.notMatch(await page.locator('body').textContent(), /Failed to fetch/, 'no browser jargon');

  // Keyhold comes back (same address, same database): the same click now creates the client, once.
  const second = await startTestApp(t, { db: first.db, port: Number(new URL(first.origin).port) });
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  const created = page.getByRole('dialog', { name: 'Client Successfully Created' });
  await created.waitFor();
  t.match(await created.textContent(), /never expires/);
  await created.getByRole('button', { name: 'Close' }).click();
  await form.getByRole('heading', { name: 'Offline app', exact: true }).waitFor();
  t.match(await form.locator('dl.settings').textContent(), /Token Lifetime900 seconds/, 'with every field typed before the outage');
  const { api } = await adminToken(second);
  const listed = (await api('GET', '/clients?type=hybrid')).body.items;
  t.same(listed.map((c: { name: string }) => c.name), ['Offline app'], 'one client');
  t.same(problems, []);
});

t.test('URL lists apply the API’s rules as items are added; the Add Secret window keeps its input when the client is refused', async (t) => {
  const kh = await startTestApp(t);
  const admin = await createUser(kh.users, { roles: ['admin'] });
  const browser = await launchChromium(t);
  const { page, problems, shot } = await openPage(t, browser, kh, 'url-lists');
  await signIn(page, kh, admin.username, admin.password);
  await page.getByRole('button', { name: 'Add Client' }).click();
  const form = pane(page);
  const box = form.getByLabel('Allowed Redirect URL(s)', { exact: true });
  const plus = form.getByRole('button', { name: 'Add to Allowed Redirect URL(s)' });
  const items = form.getByRole('list', { name: 'Allowed Redirect URL(s) list' }).getByRole('listitem');
  const error = form.locator('[data-path="redirectUris"] .error');

  await box.fill('https://app.example.com');
  await plus.click();
  t.match(await error.textContent(), /Write it as https:\/\/app\.example\.com\//, 'a URL not in canonical form is refused with its canonical form');
  await box.fill('https://app.example.com/');
  await plus.click();
  t.equal(await error.isVisible(), false);
  await box.fill('https://app.example.com/');
  await plus.click();
  t.match(await error.textContent(), /already in the list/, 'a duplicate is refused visibly');
  t.equal(await items.count(), 1, 'and not added');
  t.match(await items.first().getAttribute('class'), /invalid/, 'the item it repeats is marked');
  for (let i = 2; i <= 10; i++) {
    await box.fill(`https://app.example.com/${i}`);
    await box.press('Enter');
  }
  t.equal(await items.count(), 10);
  await box.fill('https://app.example.com/11');
  await plus.click();
  t.match(await error.textContent(), /At most 10/, 'the 11th is refused');
  t.equal(await items.count(), 10);
  t.match(await form.textContent(), /10 of 10/);
  await shot('list-full');

  // A rule only the whole client can break (https on loopback beside a native app's URL) is the server's.
  for (let i = 10; i >= 2; i--) await form.getByRole('button', { name: `Remove https://app.example.com/${i}`, exact: true }).click();
  await box.fill('https://localhost/callback');
  await box.press('Enter');
  await box.fill('com.example.app:/callback');
  await box.press('Enter');
  await form.getByLabel('Name', { exact: true }).fill('Mixed app');
  await form.getByRole('button', { name: 'Add', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Add Secret' });
  await dialog.getByLabel('Description').fill('Typed once');
  await dialog.getByLabel('Never Expires').check();
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
  await error.waitFor();
  t.match(await error.textContent(), /https:\/\/localhost\/callback.*cannot be combined/, 'the refusal shows beside the field, on its item');
  await shot('refused-by-server');
  await form.getByRole('button', { name: 'Remove https://localhost/callback', exact: true }).click();
  await form.getByRole('button', { name: 'Add', exact: true }).click();
  await dialog.waitFor();
  t.equal(await dialog.getByLabel('Description').inputValue(), 'Typed once', 'the window opens again with what was typed');
  t.ok(await dialog.getByLabel('Never Expires').isChecked());
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await page.getByRole('dialog', { name: 'Client Successfully Created' }).waitFor();
  t.same(problems, []);
});

t.test('Back closes an open window as Cancel would: a Delete confirmation deletes nothing, and the Add Secret window keeps its draft', async (t) => {
  const { client, api, page, problems } = await consoleWithClient(t, 'Payroll', 'windows-and-back');
  const title = pane(page).getByRole('heading', { name: 'Payroll', exact: true });
  await clientLink(page, client.id).click();
  await title.waitFor();
  await pane(page).getByRole('button', { name: 'Delete Client' }).click();
  await page.getByRole('dialog', { name: 'Delete client' }).waitFor();
  await page.goBack();
  await pane(page).waitFor({ state: 'hidden' });
  t.equal(await page.locator('dialog[open]').count(), 0, 'Back closes the Delete confirmation');
  t.equal(await page.evaluate(() => document.activeElement?.id), 'page-title', 'focus lands on the heading of the view Back shows');
  t.equal((await api('GET', `/clients/${client.id}`)).status, 200, 'and the client still exists');

  await page.goForward();
  await title.waitFor();
  await pane(page).getByRole('button', { name: 'Add Secret' }).click();
  const dialog = page.getByRole('dialog', { name: 'Add Secret' });
  await dialog.getByLabel('Description').fill('Kept through Back');
  await page.goBack();
  await pane(page).waitFor({ state: 'hidden' });
  t.equal(await page.locator('dialog[open]').count(), 0, 'Back closes the Add Secret window');
  // Gone from the page (not only closed): its close handlers have run.
  await page.locator('dialog').waitFor({ state: 'detached' });
  t.match(await page.evaluate(() => sessionStorage.getItem('keyhold.console.drafts')), /Kept through Back/, 'and keeps its draft');
  await page.goForward();
  await dialog.waitFor();
  t.equal(await dialog.getByLabel('Description').inputValue(), 'Kept through Back', 'Forward opens the window again as it was');
  t.match(await dialog.locator('.form-message').textContent(), /Restored what you entered/, 'saying so');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await page.locator('dialog').waitFor({ state: 'detached' });
  t.equal(await page.evaluate(() => sessionStorage.getItem('keyhold.console.drafts')), '{}', 'Cancel still discards it');
  t.equal((await api('GET', `/clients/${client.id}`)).body.secrets.length, 1, 'no secret was added');

  // A window showing a new secret is not closed by Back: the value is shown once only.
  await pane(page).getByRole('button', { name: 'Add Secret' }).click();
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  const added = page.getByRole('dialog', { name: 'Secret Successfully Added' });
  await added.waitFor();
  await page.goBack();
  await pane(page).waitFor({ state: 'hidden' });
  t.ok(await added.isVisible(), 'Back leaves the new secret on screen');
  t.ok(await added.getByRole('textbox', { name: 'Client Secret' }).inputValue(), 'with its value');
  await added.getByRole('button', { name: 'Close' }).click();
  await page.locator('dialog').waitFor({ state: 'detached' });
  t.equal(new URL(page.url()).hash, '#/clients', 'Close leaves the view Back showed');
  t.ok(await pane(page).isHidden(), 'without reopening the Details pane');
  t.same(problems, []);
});

t.test('Sign out discards the tab’s drafts; a session that merely ends keeps them', async (t) => {
  const { kh, admin, page, problems } = await consoleWithClient(t, 'Payroll', 'drafts-and-sign-out');
  await page.goto(`${kh.origin}/admin/#/clients/new?type=hybrid`);
  const name = pane(page).getByLabel('Name', { exact: true });
  await name.fill('Half-finished');

  await endSession(t, kh, page);
  await page.reload();
  await signInAgain(page, admin);
  await pane(page).getByRole('heading', { name: 'Add Hybrid Client' }).waitFor();
  t.equal(await name.inputValue(), 'Half-finished', 'after the session ended, signing in again finds the draft');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Signed out' }).waitFor();
  t.equal(await page.evaluate(() => sessionStorage.getItem('keyhold.console.drafts')), null, 'signing out discards the drafts');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await signInAgain(page, admin);
  await page.waitForURL(/\/admin\/#\/clients/);
  await page.goto(`${kh.origin}/admin/#/clients/new?type=hybrid`);
  await pane(page).getByRole('heading', { name: 'Add Hybrid Client' }).waitFor();
  t.equal(await name.inputValue(), '', 'the next sign-in in this tab finds an empty form');
  t.equal(await pane(page).locator('p.note').count(), 0, 'with nothing said restored');
  t.same(problems, []);
});

t.test('an Add Client resumed after signing in again resumes once: refused, the next Add waits in the Add Secret window', async (t) => {
  const { kh, admin, api, page, problems } = await consoleWithClient(t, 'Payroll', 'resume-once');
  await page.getByRole('button', { name: 'Add Client' }).click();
  const form = pane(page);
  await form.getByLabel('Name', { exact: true }).fill('Mixed app');
  const box = form.getByLabel('Allowed Redirect URL(s)', { exact: true });
  await box.fill('https://localhost/callback');
  await box.press('Enter');
  await box.fill('com.example.app:/callback');
  await box.press('Enter');
  await form.getByRole('button', { name: 'Add', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Add Secret' });
  await dialog.getByLabel('Description').fill('First try');
  await endSession(t, kh, page);
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await dialog.getByRole('button', { name: 'Sign in again' }).click();
  await signInAgain(page, admin);

  const error = form.locator('[data-path="redirectUris"] .error');
  await error.waitFor();
  t.match(await error.textContent(), /cannot be combined/, 'the resumed save is refused by the server');
  await form.getByRole('button', { name: 'Remove https://localhost/callback', exact: true }).click();
  await form.getByRole('button', { name: 'Add', exact: true }).click();
  await dialog.waitFor();
  await dialog.getByLabel('Description').fill('Second try');
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await page.getByRole('dialog', { name: 'Client Successfully Created' }).waitFor();
  const created = (await api('GET', '/clients?type=hybrid')).body.items.find((c: { name: string }) => c.name === 'Mixed app');
  const secrets = (await api('GET', `/clients/${created.id}`)).body.secrets as Array<{ description?: string }>;
  t.same(secrets.map((s) => s.description), ['Second try'], 'the window waited for the admin: the secret has what was typed after the refusal');
  t.same(problems, []);
});

t.test('the clients list keeps its type and search in its URL: Back, Forward and a reload keep the filter', async (t) => {
  const { kh, page, problems } = await consoleWithClient(t, 'Payroll', 'list-filter');
  const { client: portal } = await createClient(kh.clients, { name: 'Portal' });
  await page.reload();
  const rows = page.locator('#clients-table a[data-client-id]');
  const names = () => rows.allTextContents();
  await page.getByLabel('Search clients').fill('Port');
  await page.waitForURL(/#\/clients\?type=hybrid&q=Port$/);
  await page.getByText('1 matching “Port”').waitFor();
  t.same(await names(), ['Portal'], 'the search is in the URL, and filters the list');

  await clientLink(page, portal.id).click();
  await pane(page).getByRole('heading', { name: 'Portal', exact: true }).waitFor();
  await page.goBack();
  await pane(page).waitFor({ state: 'hidden' });
  t.equal(await page.getByLabel('Search clients').inputValue(), 'Port', 'Back to the list keeps the search');
  t.same(await names(), ['Portal']);

  await page.reload();
  await page.getByText('1 matching “Port”').waitFor();
  t.equal(await page.getByLabel('Search clients').inputValue(), 'Port', 'so does a reload');
  t.same(await names(), ['Portal']);

  await page.getByLabel('Client Type').selectOption({ label: 'Client Credentials' });
  await page.waitForURL(/#\/clients\?type=client-credentials&q=Port$/);
  await page.getByText('No client matches your search.').waitFor();
  await page.goBack();
  await page.getByText('1 matching “Port”').waitFor();
  t.equal(await page.getByLabel('Client Type').inputValue(), 'hybrid', 'Back returns to the type chosen before');
  t.same(await names(), ['Portal']);
  await page.goForward();
  await page.getByText('No client matches your search.').waitFor();
  t.equal(await page.getByLabel('Client Type').inputValue(), 'client-credentials', 'and Forward to the one chosen after');
  t.same(problems, []);
});

t.test('the Edit draft of a client deleted meanwhile is dropped when its route or a Save finds the client gone', async (t) => {
  const { kh, client, api, page, problems } = await consoleWithClient(t, 'Payroll', 'deleted-draft');
  await page.goto(`${kh.origin}/admin/#/clients/${client.id}/edit`);
  await pane(page).getByLabel('Name', { exact: true }).fill('Payroll (never saved)');
  const drafts = () => page.evaluate(() => Object.keys(JSON.parse(sessionStorage.getItem('keyhold.console.drafts') ?? '{}')));
  t.same(await drafts(), [`#/clients/${client.id}/edit`], 'the edit is a draft');

  const { version } = (await api('GET', `/clients/${client.id}`)).body;
  t.equal((await api('DELETE', `/clients/${client.id}`, undefined, { headers: { 'if-match': `"${version}"` } })).status, 204, 'deleted elsewhere');
  await page.reload();
  await pane(page).getByText('It no longer exists').waitFor();
  t.same(await drafts(), [], 'its draft is dropped');

  // Deleted while the form is open: Save says so, and drops the draft at once.
  const { client: other } = await createClient(kh.clients, { name: 'Ledger' });
  await page.goto(`${kh.origin}/admin/#/clients/${other.id}/edit`);
  await pane(page).getByLabel('Name', { exact: true }).fill('Ledger (never saved)');
  t.same(await drafts(), [`#/clients/${other.id}/edit`], 'the second edit is a draft');
  const { version: otherVersion } = (await api('GET', `/clients/${other.id}`)).body;
  t.equal((await api('DELETE', `/clients/${other.id}`, undefined, { headers: { 'if-match': `"${otherVersion}"` } })).status, 204, 'deleted while its form is open');
  await pane(page).getByRole('button', { name: 'Save' }).click();
  await pane(page).locator('.form-message').getByText('It no longer exists').waitFor();
  t.same(await drafts(), [], 'Save drops the draft of a client that is gone');
  t.equal(await pane(page).getByLabel('Name', { exact: true }).inputValue(), 'Ledger (never saved)', 'the form stays on screen to read');
  t.same(problems, []);
});
