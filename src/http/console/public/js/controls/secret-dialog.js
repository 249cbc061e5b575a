// The Add Secret window: description, expiration date (a year from today by default) or Never Expires.
// What the admin types lives in `state`, which outlives the window: a refusal of the client's own
// fields, a lost connection or an ended session never throws it away.

import { LIMITS } from '../rules/client-rules.js';
import { busy, h, isoDay } from '../dom.js';
import { dialog } from './dialog.js';
import { clearErrors, field, messageSlot, showFieldError, showProblem } from './field.js';

/** A fresh state: no description, a year from today. */
export function newSecretState() {
  const inAYear = new Date();
  inAYear.setFullYear(inAYear.getFullYear() + 1);
  return { description: '', day: isoDay(inAYear), never: false };
}

/** The request body for `state`, or a problem to show beside the date. */
export function secretBody(state) {
  const body = {};
  if (state.description.trim()) body.description = state.description.trim();
  if (state.never) return { body: { ...body, neverExpires: true } };
  if (!/^\d{4}-\d{2}-\d{2}$/.test(state.day)) return { problem: 'Choose a date, or select Never Expires.' };
  const [y, m, d] = state.day.split('-').map(Number);
  // The secret works to the end of the chosen day, in the admin's time zone.
  return { body: { ...body, expiresAt: new Date(y, m - 1, d, 23, 59, 59).toISOString() } };
}

/**
 * Opens the window on `state`; `submit(body, window)` does the request. `onChange` hears every edit.
 * Returns the window, with `showError(err, { prefix })` to show a refusal in it.
 */
export function secretDialog({ state, submitLabel = 'Add', submit, onChange }) {
  const tomorrow = new Date(Date.now() + 86_400_000);
  const description = field({
    path: 'description',
    label: 'Description',
    control: h('input', { type: 'text', maxlength: String(LIMITS.secretDescription.max), autocomplete: 'off', dir: 'auto', value: state.description }),
    hint: 'Include a unique description if you plan to create multiple secrets.',
  });
  const expires = field({
    path: 'expiresAt',
    label: 'Expiration date',
    control: h('input', { type: 'date', value: state.day, min: isoDay(tomorrow), required: true, disabled: state.never }),
    hint: 'By default the secret expires one year from today. It stops working at the end of this day.',
  });
  const never = field({ path: 'neverExpires', label: 'Never Expires', control: h('input', { type: 'checkbox', checked: state.never }), check: true });
  const slot = messageSlot();
  const submitButton = h('button', { type: 'submit', text: submitLabel });
  const form = h(
    'form',
    { novalidate: true },
    slot.el,
    description,
    expires,
    never,
    h('div', { class: 'actions' }, submitButton, h('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => dlg.close() })),
  );
  const dlg = dialog('Add Secret', form);
  form.addEventListener('input', () => {
    state.description = description.fieldControl.value;
    state.day = expires.fieldControl.value;
    state.never = never.fieldControl.checked;
    expires.fieldControl.disabled = state.never;
    onChange?.();
  });
  dlg.showError = (err, options) => showProblem(form, slot, err, options);
  dlg.showMessage = (kind, ...content) => slot.show(kind, ...content);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    slot.clear();
    const { body, problem } = secretBody(state);
    if (problem) {
      showFieldError(expires, problem);
      expires.fieldControl.focus();
      return;
    }
    await busy(submitButton, () => submit(body, dlg));
  });
  dlg.showModal();
  description.fieldControl.focus();
  return dlg;
}
