import { createHash } from 'node:crypto';
import type { Brand } from './brand.ts';
import { chooseLocale, translate, type Locale, type Params } from './i18n.ts';

/**
 * The pages end users see (sign-in, sign-out, form_post, errors, not found): Keyhold's own, in the user's
 * language and the configured brand, dependency-free HTML with no script but what a page hashes.
 */

/** Where the brand's logo is served, on the issuer's origin (the pages' CSP allows images from 'self' only). */
export const LOGO_PATH = '/branding/logo';

/**
 * A CSP source (with a leading space) for an app's redirect URL: its origin, or its private-use scheme.
 * Browsers apply `form-action` to the redirects that follow a form submission, so a page whose form ends
 * at the app must name the app.
 */
export function cspSource(uri: string | undefined): string {
  const url = uri ? URL.parse(uri) : null;
  if (!url) return '';
  const source = url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
  return /^[A-Za-z0-9.+\-:/[\]]+$/.test(source) ? ` ${source}` : '';
}

/**
 * The Content-Security-Policy of a page: no script but the hashed ones, its own inline styles, images
 * from its own origin (the logo), forms only to the issuer and to `formTarget`'s origin, never framed.
 */
export function pagePolicy(issuer: string, options: { scriptHashes?: readonly string[]; formTarget?: string | undefined } = {}): string {
  const scripts = options.scriptHashes?.length ? options.scriptHashes.join(' ') : "'none'";
  return [
    "default-src 'none'",
    `script-src ${scripts}`,
    "style-src 'unsafe-inline'",
    "img-src 'self'",
    `form-action ${new URL(issuer).origin}${cspSource(options.formTarget)}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/**
 * A page's one script, and its CSP hash: once the page has loaded, it presses the button `id` (a page
 * that goes on by itself, or with that one button when JavaScript is off).
 */
export function pressOnLoad(id: string): { script: string; hash: string } {
  const script = `document.addEventListener('DOMContentLoaded', function () { document.getElementById('${id}').click(); });`;
  return { script, hash: `'sha256-${createHash('sha256').update(script).digest('base64')}'` };
}

export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * An app's address to link back to: the origin of one of its registered web URLs (a redirect or logout
 * URL the caller has checked against the client). A native app's URL is no page to link to.
 */
export function appHome(uri: string | undefined): string | undefined {
  const url = uri ? URL.parse(uri) : null;
  return url && (url.protocol === 'https:' || url.protocol === 'http:') ? `${url.origin}/` : undefined;
}

/** A link back to an app: where, and its name when known. */
export interface Back {
  href: string;
  app?: string | undefined;
  /** What the link says, when it leads somewhere other than an app (the sign-in page again). */
  label?: string | undefined;
}

const style = (brand: Brand) => `
  :root { color-scheme: light dark; --accent: ${brand.accent}; --on-accent: ${brand.onAccent}; }
  * { box-sizing: border-box; }
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; min-height: 100vh;
         display: grid; place-items: center; background: Canvas; color: CanvasText; overflow-wrap: anywhere; }
  main { width: min(26rem, 100vw - 1.5rem); padding: 2rem; border: 1px solid color-mix(in srgb, CanvasText 15%, transparent);
         border-radius: 12px; margin: .75rem 0; }
  @media (max-width: 30rem) { main { padding: 1.25rem; } }
  .brand { display: flex; align-items: center; gap: .6rem; margin: 0 0 1.25rem; font-weight: 700; font-size: 1.05rem; }
  .brand img { max-height: 2.5rem; max-width: 10rem; }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
  input[type=text], input[type=password] { width: 100%; padding: .55rem .7rem; font: inherit; border-radius: 6px;
         border: 1px solid color-mix(in srgb, CanvasText 45%, transparent); background: Field; color: FieldText; }
  input[aria-invalid=true] { border: 2px solid #c92a2a; }
  button, .button { display: block; margin-top: 1.25rem; width: 100%; padding: .6rem; font: inherit; font-weight: 600; border: 0;
         border-radius: 6px; background: var(--accent); color: var(--on-accent); cursor: pointer; text-align: center; text-decoration: none; }
  button.secondary, .button.secondary { background: transparent; color: inherit; border: 1px solid color-mix(in srgb, CanvasText 45%, transparent); }
  a { color: inherit; text-decoration-color: var(--accent); text-decoration-thickness: 2px; }
  :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
  .error { border-left: 4px solid #c92a2a; padding: .5rem .75rem; background: color-mix(in srgb, #c92a2a 12%, transparent); }
  .muted { opacity: .8; font-size: .9rem; }
  code { word-break: break-all; }
`;

export interface Pages {
  readonly brand: Brand;
  /** A message in `locale`, plain text (escape it to put it in HTML); `{brand}` is the product's name. */
  t(locale: Locale, key: string, params?: Params): string;
  /** A whole page: `title` is text, `body` HTML. */
  page(locale: Locale, title: string, body: string): string;
  /** A page saying one thing (text), with a way forward: a link back to the app when one is known. */
  message(locale: Locale, options: { title: string; text: string; detail?: string | undefined; back?: Back | undefined }): string;
  /** The page of a request Keyhold cannot serve while its database is unavailable (503, Retry-After). */
  unavailable(locale: Locale): string;
}

export function createPages(brand: Brand, issuer: string): Pages {
  const origin = new URL(issuer).origin;
  const css = style(brand);
  const t = (locale: Locale, key: string, params: Params = {}) => translate(locale, key, { brand: brand.name, ...params });
  const header = brand.logo
    ? `<p class="brand"><img src="${origin}${LOGO_PATH}" alt="${escapeHtml(brand.name)}"></p>`
    : `<p class="brand">${escapeHtml(brand.name)}</p>`;

  const page = (locale: Locale, title: string, body: string) => `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(t(locale, 'page.title', { title }))}</title>
<style>${css}</style>
</head>
<body>
<main>
${header}
${body}
</main>
</body>
</html>`;

  const backLink = (locale: Locale, back: Back | undefined) =>
    back
      ? `<p><a class="button secondary" href="${escapeHtml(back.href)}">${escapeHtml(back.label ?? t(locale, 'page.back', { app: back.app ?? new URL(back.href).host }))}</a></p>`
      : '';

  const message: Pages['message'] = (locale, { title, text, detail, back }) =>
    page(
      locale,
      title,
      `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(text)}</p>
${detail ? `<p class="muted"><code>${escapeHtml(detail)}</code></p>` : ''}
${backLink(locale, back)}`,
    );

  return {
    brand,
    t,
    page,
    message,
    unavailable: (locale) => message(locale, { title: t(locale, 'error.unavailable.title'), text: t(locale, 'error.unavailable.body') }),
  };
}

/** The language of a page the provider renders: `ui_locales` of the request, else the browser's. */
export function providerLocale(ctx: { oidc?: { params?: Record<string, unknown> | undefined } | undefined; get(name: string): string }): Locale {
  return chooseLocale(ctx.oidc?.params?.['ui_locales'], ctx.get('accept-language'));
}
