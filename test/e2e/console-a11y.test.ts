import type { Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { startTestApp } from '../helpers/app.ts';
import { launchChromium } from '../helpers/browser.ts';
import { axeViolations, openPage, signIn } from '../helpers/console.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';

// The console for people using a screen reader, a keyboard, or a language written right to left: axe on
// every view, names that hold the visible labels, one live region, focus that shows, the keyboard alone.

const RTL_NAME = 'تطبيق الرواتب';
const MARKUP = '<img src=x onerror=alert(1)>';

const browser = await launchChromium(t);

/**
 * Buttons and links whose accessible name does not contain their visible label (WCAG 2.5.3). The name
 * is the aria-labelledby text, the aria-label, or the content without aria-hidden parts; the visible
 * label is the content without visually hidden parts. A "+" alone is a symbol: its name says "Add to".
 */
async function misnamed(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const norm = (s: string) => s.replace(/\s+/g, ' ').trim().toLowerCase();
    const text = (el: Node, skip: (e: Element) => boolean): string =>
      Array.from(el.childNodes)
        .map((n) => (n.nodeType === Node.TEXT_NODE ? n.textContent : n instanceof Element && !skip(n) ? text(n, skip) : ''))
        .join('');
    const modal = document.querySelector('dialog[open]');
    return Array.from((modal ?? document).querySelectorAll('button, a[href], [role=button], [role=link]'))
      .filter((el) => (el as HTMLElement).offsetParent !== null)
      .flatMap((el) => {
        const labelledby = el.getAttribute('aria-labelledby');
        const name = norm(
          labelledby
            ? labelledby.split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' ')
            : (el.getAttribute('aria-label') ?? text(el, (e) => e.getAttribute('aria-hidden') === 'true')),
        );
        const visible = norm(text(el, (e) => e.classList.contains('visually-hidden')));
        if (!name) return [`${el.outerHTML.slice(0, 120)} has no name`];
        if (visible === '+') return name.startsWith('add to ') ? [] : [`"+" is named "${name}"`];
        return name.includes(visible) ? [] : [`"${visible}" is named "${name}"`];
      });
  });
}

/** Every check a view must pass: axe (serious, critical), names holding their labels, no stray null. */
async function audit(t: Test, page: Page, view: string) {
  t.same(await axeViolations(page), [], `${view}: no serious or critical axe violation`);
  t.same(await misnamed(page), [], `${view}: every button and link is named with its visible label`);
  t.notMatch(await page.locator('body').innerText(), /\b(null|undefined)\b/, `${view}: no stray "null" or "undefined" shows`);
}

/** The focused element's outline, which must show. */
const focusRing = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement!;
    const style = getComputedStyle(el);
    return { id: el.id, tag: el.tagName.toLowerCase(), outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0 };
  });

/** Live regions outside closed windows: the console keeps exactly one. */
const liveRegions = (page: Page) =>
  page.evaluate(() =>
    Array.from(document.querySelectorAll('[aria-live], [role=status], [role=alert], output'))
      .filter((el) => !el.closest('dialog:not([open])'))
      .map((el) => el.id || el.outerHTML.slice(0, 80)),
  );

t.test('every view passes axe and names its controls with their labels', async (t) => {
  const kh = await startTestApp(t);
  const admin = await createUser(kh.users, { roles: ['admin'] });
  const { page, problems, shot } = await openPage(t, browser, kh, 'a11y-views');
  await signIn(page, kh, admin.username, admin.password);
  const pane = page.locator('#client-pane');

  await page.getByText('No hybrid clients yet').waitFor();
  await audit(t, page, 'the empty Clients list');
  for (const [type, label] of [['authorization-code', 'Authorization Code'], ['client-credentials', 'Client Credentials'], ['hybrid', 'Hybrid']]) {
    await page.goto(`${kh.origin}/admin/#/clients/new?type=${type}`);
    await pane.getByRole('heading', { name: `Add ${label} Client` }).waitFor();
    await audit(t, page, `the Add ${label} Client form`);
  }
  await pane.getByLabel('Allowed Redirect URL(s)', { exact: true }).fill('https://app.example.com/callback');
  await pane.getByLabel('Allowed Redirect URL(s)', { exact: true }).press('Enter');
  const plus = pane.getByRole('button', { name: 'Add to Allowed Redirect URL(s)', exact: true });
  t.equal(await plus.evaluate((el) => el.querySelector('[aria-hidden="true"]')?.textContent), '+', 'the + button shows + and is named for what it does');
  await pane.getByRole('button', { name: 'Remove https://app.example.com/callback' }).waitFor();
  await audit(t, page, 'the Add form with a URL listed');
  await pane.getByLabel('Token Lifetime (seconds)').fill('5');
  await pane.getByRole('button', { name: 'Add', exact: true }).click();
  await pane.locator('[data-path="accessTokenLifetime"] .error').waitFor();
  await audit(t, page, 'the form showing field errors');
  await shot('field-errors');
  await pane.getByLabel('Token Lifetime (seconds)').fill('600');
  await pane.getByLabel('Name', { exact: true }).fill('Payroll');
  await pane.getByRole('button', { name: 'Add', exact: true }).click();
  const secretWindow = page.getByRole('dialog', { name: 'Add Secret' });
  await secretWindow.getByLabel('Description').fill('Production');
  await audit(t, page, 'the Add Secret window');
  await secretWindow.getByRole('button', { name: 'Add', exact: true }).click();
  const created = page.getByRole('dialog', { name: 'Client Successfully Created' });
  await created.waitFor();
  await audit(t, page, 'the Client Successfully Created window');
  await created.getByRole('button', { name: 'Copy Client Secret' }).click();
  await created.getByRole('button', { name: /^Copied/ }).waitFor();
  t.same(await misnamed(page), [], 'a Copy button that says Copied is named so');
  await shot('created');
  await created.getByRole('button', { name: 'Close' }).click();
  await pane.getByRole('heading', { name: 'Payroll' }).waitFor();
  await audit(t, page, 'the list with a client and its Details pane with a secret');
  // The console follows the system's colour scheme: dark must read as well.
  await page.emulateMedia({ colorScheme: 'dark' });
  await audit(t, page, 'the Details pane in dark mode');
  await shot('details-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  await pane.getByRole('button', { name: 'Edit' }).click();
  await pane.getByRole('heading', { name: 'Edit Payroll' }).waitFor();
  await audit(t, page, 'the Edit form');
  await pane.getByRole('button', { name: 'Cancel' }).click();
  await pane.getByRole('button', { name: 'Delete Client' }).click();
  await page.getByRole('dialog', { name: 'Delete client' }).waitFor();
  await audit(t, page, 'the Delete client window');
  await shot('confirm');
  await page.keyboard.press('Escape');

  const { client: spa } = await createClient(kh.clients, { type: 'authorization-code', name: 'Single-page app', postLogoutRedirectUris: [] });
  await page.goto(`${kh.origin}/admin/#/clients/${spa.id}`);
  await pane.getByRole('heading', { name: 'Single-page app' }).waitFor();
  await audit(t, page, 'the Details pane of a public client');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  await page.locator(`#users-table tr[data-username="${admin.username}"]`).waitFor();
  await audit(t, page, 'the Users page');
  t.equal(await page.getByRole('button', { name: `Reset password ${admin.username}`, exact: true }).innerText(), 'Reset password');
  await page.getByRole('button', { name: 'Add User' }).click();
  await page.locator('#user-pane').getByRole('heading', { name: 'Add User' }).waitFor();
  await audit(t, page, 'the Add User form');
  await page.getByRole('button', { name: `Reset password ${admin.username}` }).click();
  await page.getByRole('dialog', { name: 'Reset password' }).getByLabel('New password').waitFor();
  await audit(t, page, 'the Reset password window');
  await page.keyboard.press('Escape');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
  await page.locator('#audit-table tbody tr').first().waitFor();
  await audit(t, page, 'the Audit page');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Signed out' }).waitFor();
  await audit(t, page, 'the Signed out page');

  const user = await createUser(kh.users);
  await signIn(page, kh, user.username, user.password);
  await page.getByRole('heading', { name: 'You need the admin role' }).waitFor();
  await audit(t, page, 'the "You need the admin role" page');
  t.same(problems, [], 'no script errors or CSP violations');
});

t.test('one live region; messages replace each other; focus shows where it lands', async (t) => {
  const kh = await startTestApp(t);
  const admin = await createUser(kh.users, { roles: ['admin'] });
  const { page, shot } = await openPage(t, browser, kh, 'a11y-live');
  await signIn(page, kh, admin.username, admin.password);
  await page.getByRole('heading', { name: 'Clients', level: 1 }).waitFor();
  t.same(await liveRegions(page), ['live'], 'the page has one live region');
  t.equal(await page.locator('#live').getAttribute('role'), 'status');

  // Navigating puts focus on the heading, which shows it.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  // The heading shows at once; focus moves to it once the list is in.
  await page.locator(`#users-table tr[data-username="${admin.username}"]`).waitFor();
  t.same(await focusRing(page), { id: 'page-title', tag: 'h1', outline: true }, 'after Users, the heading has focus and a ring');

  // The last administrator cannot disable themselves: refused twice, one message.
  const disable = page.getByRole('button', { name: `Disable ${admin.username}` });
  const refusal = (method: string) => page.waitForResponse((r) => r.request().method() === method && r.url().includes('/api/v1/users/') && r.status() === 409);
  for (let i = 0; i < 2; i++) {
    await Promise.all([refusal('PATCH'), disable.click()]);
    await page.locator('.form-message.alert').waitFor();
    await page.waitForFunction(() => document.querySelector('#live')?.textContent);
  }
  t.equal(await page.locator('.form-message:visible').count(), 1, 'two refusals show one message');
  t.match(await page.locator('.form-message').innerText(), /last enabled administrator/i);
  t.same(await liveRegions(page), ['live'], 'and the page still has one live region');
  t.equal(await page.locator('#live').count(), 1);
  t.same(await focusRing(page), { id: '', tag: 'div', outline: true }, 'the focused message shows a ring');
  t.match(await page.evaluate(() => document.activeElement?.className), /form-message/);
  await shot('refused-twice');

  // A window: the region moves in while it is open and is back in the page once it closes.
  await page.getByRole('button', { name: `Delete ${admin.username}` }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete user' });
  await Promise.all([refusal('DELETE'), confirm.getByRole('button', { name: 'Delete' }).click()]);
  await confirm.waitFor({ state: 'detached' });
  await page.locator('.form-message.alert', { hasText: /deleted/ }).waitFor();
  t.equal(await page.locator('.form-message:visible').count(), 1, 'a third refusal still shows one message');
  t.same(await liveRegions(page), ['live'], 'one live region after a window closed');

  // Opening a client focuses its heading, with a ring.
  const { client } = await createClient(kh.clients, { name: 'Focus app' });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('link', { name: 'Focus app' }).click();
  await page.locator('#client-pane').getByRole('heading', { name: 'Focus app' }).waitFor();
  t.same(await focusRing(page), { id: 'pane-title', tag: 'h2', outline: true }, `after opening ${client.id}, its heading has focus and a ring`);
});

t.test('right-to-left names read in their direction; markup in names is text', async (t) => {
  const kh = await startTestApp(t);
  const admin = await createUser(kh.users, { roles: ['admin'] });
  const { client: rtl } = await createClient(kh.clients, { name: RTL_NAME });
  await createClient(kh.clients, { name: MARKUP });
  await createUser(kh.users, { username: 'مستخدم' });
  const { page, problems, shot } = await openPage(t, browser, kh, 'a11y-names');
  const alerts: string[] = [];
  page.on('dialog', (d) => void (alerts.push(d.message()), d.dismiss()));
  await signIn(page, kh, admin.username, admin.password);

  const rtlLink = page.getByRole('link', { name: RTL_NAME });
  t.equal(await rtlLink.getAttribute('dir'), 'auto', 'the name in the list has dir=auto');
  const markupLink = page.getByRole('link', { name: MARKUP });
  t.equal(await markupLink.textContent(), MARKUP, 'a name holding markup shows as text');
  t.equal(await page.locator('main img').count(), 0, 'and makes no element');
  await markupLink.click();
  await page.locator('#client-pane').getByRole('heading', { name: MARKUP }).waitFor();
  t.equal(await page.locator('#pane-title').textContent(), MARKUP, 'in the Details heading too');
  await page.getByRole('button', { name: 'Delete Client' }).click();
  t.match(await page.getByRole('dialog', { name: 'Delete client' }).textContent(), MARKUP, 'and in the question');
  await page.keyboard.press('Escape');

  await page.goto(`${kh.origin}/admin/#/clients/${rtl.id}`);
  await page.locator('#client-pane').getByRole('heading', { name: RTL_NAME }).waitFor();
  t.equal(await page.locator('#pane-title').getAttribute('dir'), 'auto', 'the Details heading has dir=auto');
  await shot('rtl-details');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  const row = page.locator('#users-table tr[data-username="مستخدم"]');
  t.equal(await row.locator('td.name [dir]').getAttribute('dir'), 'auto', 'a right-to-left username has dir=auto');
  t.equal(await row.locator('td.name').innerText(), 'مستخدم');
  await shot('rtl-user');
  t.same(alerts, [], 'no markup ran');
  t.same(problems, [], 'no script errors or CSP violations');
});

t.test('the hybrid-client walk-through with the keyboard alone', async (t) => {
  const kh = await startTestApp(t);
  const admin = await createUser(kh.users, { roles: ['admin'] });
  const { page, problems, shot } = await openPage(t, browser, kh, 'a11y-keyboard');
  await signIn(page, kh, admin.username, admin.password);
  // Focus lands on the heading once the list is in.
  await page.getByText('No hybrid clients yet').waitFor();
  const key = page.keyboard;
  /** What has focus: its label, aria-label, or text. */
  const focused = () =>
    page.evaluate(() => {
      const el = document.activeElement as HTMLInputElement | null;
      return (el?.labels?.[0]?.textContent ?? el?.getAttribute('aria-label') ?? el?.textContent ?? '').trim();
    });
  /** Tabs (at most `max` times) until `label` has focus. */
  const tabTo = async (label: string | RegExp, max = 20) => {
    for (let i = 0; i < max; i++) {
      const now = await focused();
      if (typeof label === 'string' ? now === label : label.test(now)) return;
      await key.press('Tab');
    }
    t.fail(`Tab never reached ${label}`);
  };

  // From the heading: Tab to the type, Hybrid, Tab to Add Client.
  await tabTo('Client Type');
  await key.press('Home');
  t.equal(await page.locator('#client-type').inputValue(), 'hybrid', 'Home selects the first type, Hybrid');
  await tabTo('Add Client');
  await key.press('Enter');
  await page.getByRole('heading', { name: 'Add Hybrid Client' }).waitFor();
  t.equal(await focused(), 'Name', 'the name has focus');
  await key.type('Keyboard app');
  await tabTo(/^Allow Refresh Token/);
  await key.press('Space');
  t.ok(await page.getByLabel('Allow Refresh Token').isChecked(), 'Space ticks Allow Refresh Token');
  await tabTo('Allowed Redirect URL(s)');
  await key.type('https://app.example.com/callback');
  await key.press('Enter');
  t.equal(await page.getByRole('list', { name: 'Allowed Redirect URL(s) list' }).getByRole('listitem').count(), 1, 'Enter adds the URL');
  t.equal(await focused(), 'Allowed Redirect URL(s)', 'and focus stays in the box');
  await tabTo('Allowed Logout Redirect URL(s)');
  await key.type('https://app.example.com/signed-out');
  await tabTo('Token Lifetime (seconds)');
  await key.press('Control+A');
  await key.type('900');
  await key.press('Shift+Tab');
  t.match(await focused(), /Add to Allowed Logout Redirect URL\(s\)$/, 'Shift+Tab goes back to the + of the logout URLs');
  await tabTo('Add');
  await key.press('Enter');

  // The Add Secret window: Escape closes it and focus returns to Add; Enter opens it again.
  const secretWindow = page.getByRole('dialog', { name: 'Add Secret' });
  await secretWindow.waitFor();
  t.equal(await focused(), 'Description', 'the description has focus');
  await key.press('Escape');
  await secretWindow.waitFor({ state: 'detached' });
  t.equal(await focused(), 'Add', 'Escape closes the window and focus returns to Add');
  await key.press('Enter');
  await secretWindow.waitFor();
  await key.type('Production web server');
  await key.press('Enter');

  // Client Successfully Created: Copy, Copy, Close.
  const created = page.getByRole('dialog', { name: 'Client Successfully Created' });
  await created.waitFor();
  t.equal(await focused(), 'Copy Client Id');
  await key.press('Enter');
  const clientId = await page.evaluate(() => navigator.clipboard.readText());
  t.match(clientId, /^[0-9a-f-]{36}$/, 'Enter copies the client id');
  await tabTo('Copy Client Secret');
  await key.press('Space');
  t.ok((await page.evaluate(() => navigator.clipboard.readText())).length >= 43, 'Space copies the secret');
  await shot('created');
  await tabTo('Close');
  await key.press('Enter');
  await created.waitFor({ state: 'detached' });
  await page.locator('#client-pane').getByRole('heading', { name: 'Keyboard app' }).waitFor();
  t.equal(await page.evaluate(() => document.activeElement?.id), 'pane-title', 'the Details heading has focus');
  t.match(await page.locator('#client-pane').innerText(), /https:\/\/app\.example\.com\/signed-out/, 'the logout URL typed but not added was saved');
  t.match(await page.locator('#client-pane').innerText(), /900 seconds/);
  await shot('details');

  // Back and Forward move between the Add form and the client's details.
  await page.goBack();
  await page.getByRole('heading', { name: 'Add Hybrid Client' }).waitFor();
  t.match(page.url(), /#\/clients\/new\?type=hybrid$/, 'Back shows the Add form');
  await page.goForward();
  await page.locator('#client-pane').getByRole('heading', { name: 'Keyboard app' }).waitFor();
  t.match(page.url(), new RegExp(`#/clients/${clientId}$`), 'Forward shows the details again');
  t.same(problems, [], 'no script errors or CSP violations');
});
