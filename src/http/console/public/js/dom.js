// DOM helpers: elements are built with textContent only, never from HTML strings, so a name holding
// markup is shown as text.

/**
 * `h('button', { type: 'button', onclick }, 'Save')`. Attributes: `on*` add listeners, `text` sets
 * textContent, `value`/`checked` set properties, false/null/undefined leave the attribute out.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'value') el.value = value;
    else if (key === 'checked') el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  return append(el, children);
}

/** Replaces `el`'s children, leaving out null and false as h() does (replaceChildren would write "null"). */
export const fill = (el, ...children) => (el.replaceChildren(), append(el, children));

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Text someone typed (a name, a description): its own direction, so right-to-left names read in order. */
export const userText = (value, tag = 'span', attrs = {}) => h(tag, { dir: 'auto', ...attrs }, value ?? '');

/** An id, a URL: left to right, broken anywhere when space runs out. */
export const code = (value, attrs = {}) => h('span', { class: 'mono', dir: 'ltr', ...attrs }, value);

let uid = 0;
export const nextId = (prefix) => `${prefix}-${++uid}`;

export function formatDate(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** YYYY-MM-DD of a local date, as an <input type=date> holds it. */
export function isoDay(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Disables `button` while `work` runs: a double click sends one request. */
export async function busy(button, work) {
  const was = button.disabled;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = was;
    button.removeAttribute('aria-busy');
  }
}

/** Moves focus to `el` (a heading gets tabindex -1 first); its focus ring shows (console.css). */
export function focus(el) {
  if (!el) return;
  if (!el.matches('a[href], button, input, select, textarea, [tabindex]')) el.setAttribute('tabindex', '-1');
  el.focus();
}
