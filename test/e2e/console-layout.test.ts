import type { Page } from 'playwright-core';
import t from 'tap';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { apiFor, consoleToken } from '../helpers/admin.ts';
import { launchChromium } from '../helpers/browser.ts';
import { openPage, sideways, signIn } from '../helpers/console.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';

// The console at every width from 320 px: nothing scrolls sideways, the navigation folds behind Menu,
// and a long list stays whole and searchable.

const LONG_NAME = 'N'.repeat(100);
const RTL_NAME = 'تطبيق الرواتب';
const LONG_URL = `https://app.example.com/callback/${'segment'.repeat(25)}`;
const WIDTHS = [320, 375, 768, 1280];
const LONG_USERNAME = 'u'.repeat(64);
const LONG_DESCRIPTION = 'D'.repeat(100);

const browser = await launchChromium(t);

/** 150 hybrid clients (one with a 100-character unbroken name, one right-to-left), and one with long URLs. */
async function seed(kh: TestApp) {
  for (let i = 0; i < 147; i++) await createClient(kh.clients, { name: `App ${String(i).padStart(3, '0')}` });
  await createClient(kh.clients, { name: RTL_NAME });
  await createClient(kh.clients, { name: LONG_NAME });
  const { client } = await createClient(kh.clients, {
    name: 'Long URLs',
    redirectUris: [LONG_URL, `${LONG_URL}/2`],
    postLogoutRedirectUris: [`${LONG_URL}/out`],
  });
  return client.id;
}

const clientRows = (page: Page) => page.locator('#clients-table tbody tr');

/** Cells wider than the box their table sits in, or reaching past it, one line each. */
async function cellsOutside(page: Page, table: string): Promise<string[]> {
  return page.$$eval(`${table} td`, (cells) => {
    const table = cells[0]?.closest('table');
    const box = table?.parentElement?.getBoundingClientRect();
    if (!box) return ['no cells'];
    return cells
      .filter((c) => c.getBoundingClientRect().width > box.width + 0.5 || c.getBoundingClientRect().right > box.right + 0.5)
      .map((c) => `${(c as HTMLElement).dataset.label ?? c.className} ${Math.round(c.getBoundingClientRect().width)} px wide, right ${Math.round(c.getBoundingClientRect().right)} > ${Math.round(box.right)}`);
  });
}

t.test('no view scrolls sideways at 320, 375, 768 or 1280 px', async (t) => {
  const kh = await startTestApp(t);
  const admin = await createUser(kh.users, { roles: ['admin'] });
  const longUrlsId = await seed(kh);
  for (const width of WIDTHS) {
    const { page, problems, shot } = await openPage(t, browser, kh, `layout-${width}`, { width });
    await signIn(page, kh, admin.username, admin.password);
    const check = async (view: string) => {
      t.same(await sideways(page), [], `${view} at ${width} px does not scroll sideways`);
      await shot(view);
    };

    await clientRows(page).nth(149).waitFor();
    await check('clients');

    await page.goto(`${kh.origin}/admin/#/clients/${longUrlsId}`);
    await page.locator('#client-pane').getByRole('heading', { name: 'Long URLs' }).waitFor();
    await check('details-long-urls');

    await page.goto(`${kh.origin}/admin/#/clients/new?type=hybrid`);
    const pane = page.locator('#client-pane');
    await pane.getByRole('heading', { name: 'Add Hybrid Client' }).waitFor();
    await pane.getByLabel('Name', { exact: true }).fill(LONG_NAME);
    for (const url of [LONG_URL, 'https://app.example.com/callback']) {
      await pane.getByLabel('Allowed Redirect URL(s)', { exact: true }).fill(url);
      await pane.getByLabel('Allowed Redirect URL(s)', { exact: true }).press('Enter');
    }
    t.equal(await pane.getByRole('list', { name: 'Allowed Redirect URL(s) list' }).getByRole('listitem').count(), 2, 'both URLs are listed');
    await check('add-form-with-urls');

    await pane.getByRole('button', { name: 'Add', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Add Secret' });
    await dialog.getByLabel('Description').fill('A description');
    t.same(await sideways(page), [], `the Add Secret window at ${width} px does not scroll sideways`);
    const box = await dialog.boundingBox();
    t.ok(box && box.x >= 0 && box.x + box.width <= width, 'and fits the screen');
    await shot('add-secret');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });

    await page.goto(`${kh.origin}/admin/#/users`);
    await page.locator(`#users-table tr[data-username="${admin.username}"]`).waitFor();
    await check('users');

    await page.goto(`${kh.origin}/admin/#/audit`);
    await page.getByRole('heading', { name: 'Audit', level: 1 }).waitFor();
    await page.locator('#audit-table tbody tr').first().waitFor();
    await check('audit');
    if (width < 640) {
      const emptyLabels = await page.$$eval('#audit-table td[data-label]', (cells) => cells.filter((c) => !c.textContent && (c as HTMLElement).offsetParent).length);
      t.equal(emptyLabels, 0, 'a stacked event shows no label without a value');
    }
    t.same(problems, [], 'no script errors or CSP violations');
    await page.context().close();
  }
});

t.test('long unbroken names, usernames and descriptions wrap in their cells at 1024, 1280 and 1600 px', async (t) => {
  const kh = await startTestApp(t);
  // The admin has the longest username allowed and makes every change, so the audit's By cells carry it.
  const admin = await createUser(kh.users, { username: LONG_USERNAME, roles: ['admin'] });
  const api = apiFor(kh, (await consoleToken(kh, admin.username, admin.password)).token);
  const created = await api('POST', '/clients', { type: 'hybrid', name: LONG_NAME, redirectUris: [LONG_URL] });
  t.equal(created.status, 201, 'a client with a 100-character unbroken name');
  const clientId = created.body.client.id as string;
  t.equal((await api('POST', `/clients/${clientId}/secrets`, { description: LONG_DESCRIPTION, neverExpires: true })).status, 201, 'a secret with a 100-character description');
  const named = { username: `x${'y'.repeat(63)}`, name: LONG_NAME, email: `${'e'.repeat(60)}@example.com`, roles: [] };
  t.equal((await api('POST', '/users', named)).status, 201, 'a user with a 100-character unbroken name (the event about it names its username)');

  for (const width of [1024, 1280, 1600]) {
    const { page, problems, shot } = await openPage(t, browser, kh, `long-text-${width}`, { width });
    await signIn(page, kh, admin.username, admin.password);
    const check = async (view: string, table: string) => {
      t.same(await sideways(page), [], `${view} at ${width} px does not scroll sideways`);
      t.same(await cellsOutside(page, table), [], `no cell of ${view} at ${width} px is wider than the table's box`);
      await shot(view);
    };

    await page.goto(`${kh.origin}/admin/#/users`);
    await page.locator(`#users-table tr[data-username="${LONG_USERNAME}"]`).waitFor();
    await page.locator('#users-table td', { hasText: LONG_NAME }).waitFor();
    await check('users', '#users-table');

    await page.goto(`${kh.origin}/admin/#/clients/${clientId}`);
    await page.locator('#secrets-table td', { hasText: LONG_DESCRIPTION }).waitFor();
    await check('details-secrets', '#secrets-table');
    await clientRows(page).first().waitFor();
    t.same(await cellsOutside(page, '#clients-table'), [], `no cell of the clients list beside it at ${width} px is wider than the table's box`);

    await page.goto(`${kh.origin}/admin/#/audit`);
    await page.locator('#audit-table td', { hasText: LONG_NAME }).first().waitFor();
    await page.locator('#audit-table td', { hasText: LONG_USERNAME }).first().waitFor();
    await check('audit', '#audit-table');
    t.same(problems, [], 'no script errors or CSP violations');
    await page.context().close();
  }
});

t.test('below 48rem the navigation folds behind Menu, which the keyboard works', async (t) => {
  const kh = await startTestApp(t);
  const admin = await createUser(kh.users, { roles: ['admin'] });
  const { page, shot } = await openPage(t, browser, kh, 'menu', { width: 375 });
  await signIn(page, kh, admin.username, admin.password);
  // Focus lands on the heading once the list is in.
  await page.getByText('No hybrid clients yet').waitFor();
  const menu = page.getByRole('button', { name: 'Menu' });
  const nav = page.getByRole('navigation', { name: 'Main' });
  t.ok(await menu.isVisible(), 'Menu shows');
  t.notOk(await nav.isVisible(), 'the navigation is folded');
  t.equal(await menu.getAttribute('aria-expanded'), 'false');

  // Focus starts on the page's heading; back from there: Sign out, then Menu.
  t.equal(await page.evaluate(() => document.activeElement?.id), 'page-title');
  await page.keyboard.press('Shift+Tab');
  t.equal(await page.evaluate(() => document.activeElement?.id), 'sign-out');
  await page.keyboard.press('Shift+Tab');
  t.equal(await page.evaluate(() => document.activeElement?.id), 'menu', 'Shift+Tab reaches Menu');
  await page.keyboard.press('Enter');
  await nav.waitFor();
  t.equal(await menu.getAttribute('aria-expanded'), 'true');
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Clients', 'focus moves to the first link');
  t.same(await sideways(page), [], 'the open menu does not scroll sideways');
  await shot('menu-open');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Escape');
  await nav.waitFor({ state: 'hidden' });
  t.equal(await page.evaluate(() => document.activeElement?.id), 'menu', 'Escape closes it and focus returns to Menu');
  t.equal(await menu.getAttribute('aria-expanded'), 'false');

  // Space opens it too; following a link closes it.
  await page.keyboard.press('Space');
  await nav.waitFor();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
  t.notOk(await nav.isVisible(), 'following a link folds the navigation');

  // At 48rem and above there is no Menu, only the navigation.
  await page.setViewportSize({ width: 1280, height: 800 });
  t.notOk(await menu.isVisible(), 'no Menu on a wide screen');
  t.ok(await nav.isVisible(), 'the navigation shows');
});

t.test('150 clients: all listed, searchable, and a long name stays in its cell beside the pane', async (t) => {
  const kh = await startTestApp(t);
  const admin = await createUser(kh.users, { roles: ['admin'] });
  await seed(kh);
  const { page, shot } = await openPage(t, browser, kh, 'many-clients', { width: 1280 });
  await signIn(page, kh, admin.username, admin.password);
  await clientRows(page).nth(149).waitFor();
  t.equal(await clientRows(page).count(), 150, 'every client has a row');
  t.match(await page.locator('.count').textContent(), /^150 in all$/, 'and the count says so');

  // The long name opens its Details pane beside the list, without overlapping it.
  await page.getByRole('link', { name: LONG_NAME }).click();
  const pane = page.locator('#client-pane');
  await pane.getByRole('heading', { name: LONG_NAME }).waitFor();
  const cell = page.locator('#clients-table td.name', { hasText: LONG_NAME });
  const [cellBox, linkBox, paneBox] = await Promise.all([cell.boundingBox(), cell.getByRole('link').boundingBox(), pane.boundingBox()]);
  t.ok(cellBox && linkBox && paneBox, 'the cell, its link and the pane are laid out');
  t.ok(cellBox!.x + cellBox!.width <= paneBox!.x, `the name's cell (right ${cellBox!.x + cellBox!.width}) ends before the pane (left ${paneBox!.x})`);
  t.ok(linkBox!.x >= cellBox!.x && linkBox!.x + linkBox!.width <= cellBox!.x + cellBox!.width + 0.5, 'the name stays inside its cell');
  t.same(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth), true, 'nothing scrolls sideways');
  t.same(await page.locator('#pane-title').evaluate((el) => el.scrollWidth <= el.clientWidth), true, 'the pane title wraps within the pane');
  await shot('long-name-details');

  // The search box narrows the list by part of a name, and says so.
  const search = page.getByRole('searchbox', { name: 'Search clients' });
  await search.fill('app 01');
  await page.locator('.count', { hasText: 'matching' }).waitFor();
  t.equal(await page.locator('.count').textContent(), '10 matching “app 01”', 'the count tells what matched');
  t.equal(await clientRows(page).count(), 10, 'App 010 to App 019');
  t.same(await clientRows(page).locator('td.name').allTextContents(), Array.from({ length: 10 }, (_, i) => `App 01${i}`));
  await shot('search-by-name');

  // And by the start of a client id.
  const rtlId = (await kh.clients.list({ search: RTL_NAME }))[0]!.id;
  await search.fill(rtlId.slice(0, 8));
  await page.locator('.count', { hasText: rtlId.slice(0, 8) }).waitFor();
  t.ok((await clientRows(page).count()) >= 1, 'the id prefix finds a client');
  t.ok(await clientRows(page).filter({ hasText: rtlId }).count(), 'the one it names');
  t.ok((await clientRows(page).count()) < 150, 'and narrows the list');

  await search.fill('no such client');
  await page.getByText('No client matches your search.').waitFor();
  t.equal(await page.locator('.count').textContent(), '0 matching “no such client”');
  await search.fill('');
  await clientRows(page).nth(149).waitFor();
  t.equal(await clientRows(page).count(), 150, 'emptying the box lists them all again');
});
