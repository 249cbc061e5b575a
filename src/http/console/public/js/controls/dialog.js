// Modal windows (<dialog>): a generic one, a yes/no question, and the window that shows a new secret once.

import { formatDate, h, nextId } from '../dom.js';
import { announce, rescueLiveRegion } from '../live.js';

export function dialog(title, ...content) {
  const titleId = nextId('dlg');
  const el = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), ...content);
  el.addEventListener('close', () => {
    rescueLiveRegion(el);
    setTimeout(() => el.remove(), 0);
  });
  document.body.append(el);
  return el;
}

/**
 * Closes every open window as Cancel would (a question answers no), because the view changed: Back,
 * Forward, a link. Each window's `navigating` is true from then on, so its owner can keep its draft.
 * A window showing a new secret stays open (its value is shown once only); closing it later leads nowhere.
 */
export function closeWindows() {
  for (const el of document.querySelectorAll('dialog[open]')) {
    el.navigating = true;
    if (!el.showsSecretOnce) el.close();
  }
}

/** Resolves true when the admin confirms. */
export function confirmAction(title, message, action) {
  return new Promise((resolve) => {
    let answer = false;
    const dlg = dialog(
      title,
      h('p', { dir: 'auto' }, message),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'danger', text: action, onclick: () => ((answer = true), dlg.close()) }),
        h('button', { type: 'button', class: 'secondary', text: 'Cancel', autofocus: true, onclick: () => dlg.close() }),
      ),
    );
    dlg.addEventListener('close', () => resolve(answer));
    dlg.showModal();
  });
}

async function copyText(value, input, button, label) {
  try {
    await navigator.clipboard.writeText(value);
  } catch {
    input.select();
    document.execCommand('copy');
  }
  // The name changes with the visible label, so it always holds the words shown (WCAG 2.5.3).
  const say = (text) => {
    button.textContent = text;
    button.setAttribute('aria-label', `${text} ${label}`);
  };
  say('Copied');
  announce('Copied to the clipboard');
  setTimeout(() => say('Copy'), 2000);
}

function copyField(label, value, id) {
  const input = h('input', { type: 'text', id, readonly: true, value, spellcheck: 'false', dir: 'ltr' });
  const button = h('button', { type: 'button', class: 'secondary', text: 'Copy', 'aria-label': `Copy ${label}`, onclick: () => copyText(value, input, button, label) });
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('div', { class: 'copy-row' }, input, button));
}

/** Shows a new secret once (and, for a new client, its id); `onClose` runs when it closes, unless the route changed meanwhile. */
export function createdDialog({ title, clientId, secret, onClose }) {
  const parts = [];
  if (clientId) parts.push(copyField('Client Id', clientId, 'created-client-id'));
  if (secret) {
    parts.push(
      copyField('Client Secret', secret.value, 'created-client-secret'),
      h(
        'p',
        { class: 'note', role: 'note' },
        h('strong', {}, 'Important: '),
        'Use the Copy buttons to save a copy of these values for your records; your application needs them. ',
        h('strong', {}, 'Once this window is closed, the client secret cannot be accessed or retrieved.'),
      ),
      h('p', { class: 'muted' }, secret.expiresAt ? `The secret expires ${formatDate(secret.expiresAt)}.` : 'The secret never expires.'),
    );
  }
  const close = h('button', { type: 'button', text: 'Close', onclick: () => dlg.close() });
  const dlg = dialog(title, ...parts, h('div', { class: 'actions' }, close));
  dlg.showsSecretOnce = Boolean(secret);
  dlg.addEventListener('close', () => dlg.navigating || onClose?.());
  dlg.showModal();
  (dlg.querySelector('.copy-row button') ?? close).focus();
  return dlg;
}
