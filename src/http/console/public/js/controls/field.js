// A labelled form field with an error slot, and the placing of an API's field problems beside the
// fields they name (problem+json `errors[].path`: "name", "redirectUris.0", "secret.expiresAt").

import { ApiError, SessionEnded, Unreachable } from '../api.js';
import { fill, h, nextId, focus } from '../dom.js';
import { announce } from '../live.js';
import { describeProblem, sentence } from '../messages.js';

/** A field: label, control, hint and an error slot tied to the control by aria-describedby. */
export function field({ path, label, control, hint, check = false }) {
  control.id ||= nextId('f');
  const error = h('p', { class: 'error', id: nextId('err'), hidden: true });
  const hintEl = hint ? h('p', { class: 'hint', id: nextId('hint') }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  const labelEl = h('label', { for: control.id }, check ? [control, ' ', label] : label);
  const wrapper = h('div', { class: check ? 'field check' : 'field', 'data-path': path }, labelEl, check ? null : control, hintEl, error);
  wrapper.fieldControl = control;
  wrapper.fieldError = error;
  return wrapper;
}

export function clearFieldError(wrapper) {
  const { fieldControl: control, fieldError: error } = wrapper;
  error.hidden = true;
  error.textContent = '';
  control.removeAttribute('aria-invalid');
  const ids = (control.getAttribute('aria-describedby') ?? '').split(' ').filter((id) => id && id !== error.id);
  if (ids.length) control.setAttribute('aria-describedby', ids.join(' '));
  else control.removeAttribute('aria-describedby');
  for (const item of wrapper.querySelectorAll('.items li.invalid')) item.classList.remove('invalid');
}

export function showFieldError(wrapper, message) {
  const { fieldControl: control, fieldError: error } = wrapper;
  error.textContent = error.textContent ? `${error.textContent} ${message}` : message;
  error.hidden = false;
  control.setAttribute('aria-invalid', 'true');
  const ids = new Set((control.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean));
  ids.add(error.id);
  control.setAttribute('aria-describedby', [...ids].join(' '));
}

/** The one message slot of a form (or window): replaced, never stacked; focused when it matters. */
export function messageSlot() {
  const el = h('div', { class: 'form-message', tabindex: '-1', hidden: true });
  return {
    el,
    show(kind, ...content) {
      el.className = `form-message ${kind === 'error' ? 'alert' : 'note'}`;
      fill(el, content);
      el.hidden = false;
      announce(el.textContent);
    },
    clear() {
      el.hidden = true;
      el.replaceChildren();
    },
  };
}

export function clearErrors(container) {
  for (const wrapper of container.querySelectorAll('.field')) if (wrapper.fieldError) clearFieldError(wrapper);
}

/** One sentence for an error that is not about a field. */
export function summary(err) {
  if (err instanceof Unreachable || err instanceof SessionEnded) return err.message;
  if (!(err instanceof ApiError)) return err?.message || 'Something went wrong.';
  if (err.status === 404) return 'It no longer exists: someone may have deleted it.';
  if (err.status === 400 && err.problem.errors?.length) return 'Some values need attention.';
  if (err.status >= 500 && err.status !== 503) return 'Keyhold could not do this just now. Try again; if it keeps failing, check the server logs.';
  return sentence(err.problem.detail || err.problem.title || err.message);
}

/**
 * Shows `err` in `container`: each field problem beside its field (by data-path, after `prefix`),
 * the rest in `slot`. Focuses the first field in error, else the slot. Returns the problems not placed.
 */
export function showProblem(container, slot, err, { prefix = '', labels = {} } = {}) {
  clearErrors(container);
  const problems = err instanceof ApiError ? (err.problem.errors ?? []) : [];
  const unplaced = [];
  let first;
  for (const problem of problems) {
    const path = String(problem.path ?? '');
    const [top, index] = path.startsWith(prefix) ? path.slice(prefix.length).split('.') : [];
    const wrapper = top !== undefined ? container.querySelector(`[data-path="${CSS.escape(top)}"]`) : null;
    if (!wrapper?.fieldError) {
      unplaced.push(problem);
      continue;
    }
    let message = describeProblem(problem);
    const item = index !== undefined ? wrapper.listItems?.()[Number(index)] : undefined;
    if (item) {
      item.element.classList.add('invalid');
      message = `“${item.value}”: ${message}`;
    }
    showFieldError(wrapper, message);
    first ??= wrapper.fieldControl;
  }
  if (!first || unplaced.length) {
    const lines = unplaced.map((p) => `${labels[String(p.path).split('.')[0]] ?? p.path}: ${describeProblem(p)}`);
    slot.show('error', h('p', {}, first ? 'Some values need attention.' : summary(err)), lines.length ? h('ul', {}, lines.map((line) => h('li', {}, line))) : null);
    if (!first) first = slot.el;
  } else {
    slot.clear();
    announce('Some values need attention.');
  }
  focus(first);
  return unplaced;
}
