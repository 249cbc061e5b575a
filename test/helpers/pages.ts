import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page, Response } from 'playwright-core';
import type { Test } from 'tap';
import { axeViolations, sideways } from './console.ts';
import type { TestApp } from './app.ts';
import { createClient } from './fixtures.ts';
import { pkce, random } from './flow.ts';

/** Browser tests of the pages end users see (test/e2e/pages*.test.ts). */

export const LANGS = ['en', 'fr', 'de'] as const;
export type Lang = (typeof LANGS)[number];

/** The message files as a translator wrote them, read here rather than through the code under test. */
export const MSG: Record<Lang, Record<string, string>> = Object.fromEntries(
  LANGS.map((lang) => [lang, JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'src', 'pages', 'messages', `${lang}.json`), 'utf8'))]),
) as Record<Lang, Record<string, string>>;

/** A message with its placeholders filled (`brand` is Keyhold unless given). */
export function msg(lang: Lang, key: string, params: Record<string, string> = {}): string {
  const text = MSG[lang][key];
  if (text === undefined) throw new Error(`no message ${key}`);
  return text.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? (name === 'brand' ? 'Keyhold' : `{${name}}`));
}

/**
 * The application the pages send users back to: a tiny HTTP server on loopback (Chromium does not let a
 * test answer a redirect's target for it), registered as a native app's redirect and logout URLs.
 */
export interface TestRp {
  origin: string;
  callback: string;
  signedOut: string;
  /** Every request that reached it: method, path and query, body. */
  hits: Array<{ method: string; url: string; body: string }>;
}

export async function startRp(t: Test): Promise<TestRp> {
  const hits: TestRp['hits'] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      hits.push({ method: request.method ?? '', url: request.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end('<!doctype html><html lang="en"><title>The app</title><h1>The app</h1></html>');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return { origin, callback: `${origin}/callback`, signedOut: `${origin}/signed-out`, hits };
}

/** The app as a client of Keyhold (loopback URLs: a native app, so requests carry PKCE). */
export async function registerRp(kh: TestApp, rp: TestRp, name = 'Test app') {
  return (await createClient(kh.clients, { name, redirectUris: [rp.callback], postLogoutRedirectUris: [rp.signedOut] })).client;
}

/** An authorization request for the app, as a URL. */
export function authorize(kh: TestApp, clientId: string, rp: Pick<TestRp, 'callback'>, params: Record<string, string> = {}): string {
  const url = new URL(`${kh.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: rp.callback,
    scope: 'openid',
    state: random(),
    nonce: random(),
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...params,
  }).toString();
  return url.href;
}

/** The last document response of the page's main frame that was not a redirect (its headers are checked). */
export function lastDocument(page: Page): () => Response {
  let last: Response | undefined;
  page.on('response', (response) => {
    const request = response.request();
    if (request.frame() === page.mainFrame() && request.resourceType() === 'document' && (response.status() < 300 || response.status() >= 400)) last = response;
  });
  return () => {
    if (!last) throw new Error('no document yet');
    return last;
  };
}

/**
 * Checks the page as it shows now is Keyhold's own, in `lang`, headed `heading`: the brand header, `lang`,
 * the framing and script policy, no serious or critical axe-core finding; screenshots at 375 and 1280 px,
 * nothing scrolling sideways at either.
 */
export async function checkPage(
  t: Test,
  page: Page,
  document: () => Response,
  { lang, heading, label, shot, brand = 'Keyhold', scriptsOff = false }: { lang: Lang; heading: string; label: string; shot: (label: string) => Promise<void>; brand?: string; scriptsOff?: boolean },
) {
  await page.getByRole('heading', { level: 1 }).waitFor();
  t.equal(await page.getByRole('heading', { level: 1 }).innerText(), heading, `${label}: heading in ${lang}`);
  t.equal(await page.locator('html').getAttribute('lang'), lang, `${label}: <html lang>`);
  t.equal((await page.locator('main > .brand').innerText()).trim() || (await page.locator('main > .brand img').getAttribute('alt')), brand, `${label}: brand header`);
  t.ok((await page.title()).endsWith(` · ${brand}`), `${label}: title names the brand`);
  const headers = await document().allHeaders();
  t.match(headers['content-type'], /^text\/html/, `${label}: HTML`);
  t.match(headers['content-security-policy'], /frame-ancestors 'none'/, `${label}: never framed (CSP)`);
  t.match(headers['content-security-policy'], /default-src 'none'/, `${label}: strict CSP`);
  t.equal(headers['x-frame-options'], 'DENY', `${label}: X-Frame-Options`);
  // axe-core and the sideways check run as scripts in the page; a context without JavaScript runs none,
  // so they run on the same document, its scripts removed (what such a browser shows), in a page that may.
  let probe = page;
  if (scriptsOff) {
    const context = await page.context().browser()!.newContext();
    probe = await context.newPage();
    t.teardown(() => context.close());
    await probe.setContent((await page.content()).replace(/<script[\s\S]*?<\/script>/g, ''));
  }
  t.same(await axeViolations(probe), [], `${label}: no serious or critical axe-core violation`);
  // The pages follow the system's colour scheme: the dark one is held to the same.
  await probe.emulateMedia({ colorScheme: 'dark' });
  t.same(await axeViolations(probe), [], `${label}: none in the dark colour scheme either`);
  await probe.emulateMedia({ colorScheme: 'light' });
  for (const width of [375, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    await probe.setViewportSize({ width, height: 800 });
    await shot(`${label}-${width}`);
    t.same(await sideways(probe), [], `${label}: nothing scrolls sideways at ${width} px`);
  }
}
