/** Minimal, dependency-free HTML for the pages Keyhold renders itself. */

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

export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `
  :root { color-scheme: light dark; --accent: #3b5bdb; }
  * { box-sizing: border-box; }
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; min-height: 100vh;
         display: grid; place-items: center; background: Canvas; color: CanvasText; }
  main { width: min(24rem, 92vw); padding: 2rem; border: 1px solid color-mix(in srgb, CanvasText 15%, transparent);
         border-radius: 12px; }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
  input[type=text], input[type=password] { width: 100%; padding: .55rem .7rem; font: inherit; border-radius: 6px;
         border: 1px solid color-mix(in srgb, CanvasText 35%, transparent); background: Field; color: FieldText; }
  button { margin-top: 1.25rem; width: 100%; padding: .6rem; font: inherit; font-weight: 600; border: 0;
         border-radius: 6px; background: var(--accent); color: white; cursor: pointer; }
  button.secondary { background: transparent; color: inherit; border: 1px solid color-mix(in srgb, CanvasText 35%, transparent); }
  :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
  .error { border-left: 4px solid #c92a2a; padding: .5rem .75rem; background: color-mix(in srgb, #c92a2a 12%, transparent); }
  .muted { opacity: .75; font-size: .9rem; }
  code { word-break: break-all; }
`;

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} · Keyhold</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

export function messagePage(title: string, message: string, detail?: string): string {
  return page(
    title,
    `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(message)}</p>
${detail ? `<p class="muted"><code>${escapeHtml(detail)}</code></p>` : ''}`,
  );
}

/** The page of a request Keyhold cannot serve while its database is unavailable (answered 503 with Retry-After). */
export function unavailablePage(): string {
  return messagePage(
    'Keyhold is unavailable for a moment',
    'Keyhold cannot reach its database right now, so it cannot sign you in. Wait a few seconds, then reload this page.',
  );
}
