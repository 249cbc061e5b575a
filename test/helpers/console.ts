import { readFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Test } from 'tap';
import { startTestApp, type TestApp } from './app.ts';
import { launchChromium } from './browser.ts';
import { createUser } from './fixtures.ts';
import { post } from './flow.ts';

/** Screenshots of every step; test-artifacts/ is ignored by git. */
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'console');

/**
 * A page in a context of its own (or `context`'s), recording script errors and CSP violations, saving
 * numbered screenshots, and showing what the browser showed when a test fails.
 */
export async function openPage(t: Test, browser: Browser, kh: TestApp, name: string, { context, width }: { context?: BrowserContext; width?: number } = {}) {
  const ctx = context ?? (await browser.newContext(width ? { viewport: { width, height: 800 } } : {}));
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: kh.origin });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  t.teardown(async () => {
    if (!t.passing()) {
      t.comment(`page ${page.url()}:\n${await page.locator('body').innerText().catch(() => '(no page)')}`);
      if (problems.length) t.comment(problems.join('\n'));
      await page.screenshot({ path: join(ARTIFACTS, `${name}-failure.png`), fullPage: true }).catch(() => {});
    }
    if (!context) await ctx.close();
  });
  await mkdir(ARTIFACTS, { recursive: true });
  let step = 0;
  const shot = async (label: string) => {
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${String(++step).padStart(2, '0')}-${label}.png`), fullPage: true });
  };
  return { page, problems, shot };
}

/** Opens the console and signs in on Keyhold's sign-in page; resolves once the console shows. */
export async function signIn(page: Page, kh: TestApp, username: string, password: string, path = '/admin') {
  await page.goto(`${kh.origin}${path}`);
  await page.waitForURL(/\/interaction\//);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/admin\/#\//);
}

/** Ends the console's session: its access token revoked, the sign-in session forgotten (the password is needed again). */
export async function endSession(t: Test, kh: TestApp, page: Page) {
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('keyhold.console.session') ?? '{}').accessToken as string);
  t.equal((await post(`${kh.issuer}/token/revocation`, { token, client_id: 'keyhold-admin-console' })).status, 200, 'the token is revoked');
  await page.context().clearCookies();
}

/** Signs in again from the sign-in page the console sent the browser to. */
export async function signInAgain(page: Page, admin: { username: string; password: string }) {
  await page.waitForURL(/\/interaction\//);
  await page.getByLabel('Username').fill(admin.username);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Visible form controls without an accessible name. */
export async function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('input, select, textarea'))
      .filter((el) => (el as HTMLElement).offsetParent !== null || (el as HTMLElement).closest('dialog[open]'))
      .filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
      .map((el) => el.outerHTML),
  );
}

let axeSource: Promise<string> | undefined;

/**
 * axe-core's serious and critical violations on the page as it is now, one line each. axe is evaluated
 * through the debugging protocol, which the page's CSP does not govern (the console itself stays strict).
 */
export async function axeViolations(page: Page): Promise<string[]> {
  axeSource ??= readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(await axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, options: object) => Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: unknown[] }> }> }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.join(', ')}`);
}

/** Whether the page scrolls sideways, and the widest elements that make it. */
export async function sideways(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth <= width) return [];
    return Array.from(document.querySelectorAll('body *'))
      .filter((el) => el.getBoundingClientRect().right > width + 0.5)
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${el.className} right=${Math.round(el.getBoundingClientRect().right)} > ${width}`);
  });
}

/**
 * A fresh Keyhold, and an administrator signed in to its console in Chromium (screenshots under
 * `screenshots`); `prepare` stores what the console should find as it opens.
 */
export async function signedInConsole<T = undefined>(t: Test, screenshots: string, prepare?: (kh: TestApp) => Promise<T>) {
  const kh = await startTestApp(t);
  const admin = await createUser(kh.users, { roles: ['admin'] });
  const prepared = (await prepare?.(kh)) as T;
  const browser = await launchChromium(t);
  const { page, problems, shot } = await openPage(t, browser, kh, screenshots);
  await signIn(page, kh, admin.username, admin.password);
  return { kh, admin, prepared, browser, page, problems, shot };
}
