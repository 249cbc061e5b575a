// The Add User form at #/users/new. What the administrator types is kept as a draft under its route,
// except the password, which is never stored: a draft restored says so, and a save the end of the
// session interrupted resumes after signing in again, asking for the password once more if one was typed.

import { ApiError, SessionEnded } from '../api.js';
import { busy, fill, h } from '../dom.js';
import { announce } from '../live.js';
import { clearDraft, loadDraft, saveDraft } from '../drafts.js';
import { clearErrors, field, messageSlot, showFieldError, showProblem, summary } from '../controls/field.js';
import { RESTORED, sessionEnded } from './client-edit.js';

export const USER_LABELS = { username: 'Username', name: 'Name', email: 'Email', password: 'Password', roles: 'Roles' };

export const PASSWORD_AGAIN = 'Your session ended before the user was added. Everything you entered is back except the password, which is never kept: enter it again and select Add.';

/** Fills `pane` with the form; `onAdded(username)` runs once the user exists. */
export function showAddUser(ctx, pane, { onAdded, onCancel }) {
  const route = '#/users/new';
  const draft = loadDraft(route);
  const saved = draft ?? {};
  const input = (name, attrs) => h('input', { type: 'text', autocomplete: 'off', value: saved[name] ?? '', ...attrs });
  const fields = {
    username: field({ path: 'username', label: USER_LABELS.username, control: input('username', { required: true, autocapitalize: 'none', spellcheck: 'false', dir: 'auto' }) }),
    name: field({ path: 'name', label: USER_LABELS.name, control: input('name', { dir: 'auto' }) }),
    email: field({ path: 'email', label: USER_LABELS.email, control: input('email', { type: 'email', dir: 'auto' }) }),
    // The password is never kept in a draft.
    password: field({ path: 'password', label: USER_LABELS.password, control: h('input', { type: 'password', autocomplete: 'new-password' }) }),
    roles: field({ path: 'roles', label: 'Administrator (may use this console and the admin API)', control: h('input', { type: 'checkbox', checked: saved.admin }), check: true }),
  };
  const formSlot = messageSlot();
  const save = h('button', { type: 'submit', text: 'Add' });
  const form = h(
    'form',
    { novalidate: true },
    formSlot.el,
    Object.values(fields),
    h('div', { class: 'actions' }, save, h('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => (clearDraft(route), onCancel()) })),
  );
  const values = () => ({ username: fields.username.fieldControl.value.trim(), name: fields.name.fieldControl.value.trim(), email: fields.email.fieldControl.value.trim(), admin: fields.roles.fieldControl.checked });
  form.addEventListener('input', () => saveDraft(route, values()));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const v = values();
    if (!v.username) {
      showFieldError(fields.username, 'This is required.');
      return fields.username.fieldControl.focus();
    }
    const password = fields.password.fieldControl.value;
    const body = { username: v.username, roles: v.admin ? [ctx.config.roles.admin] : [] };
    if (v.name) body.name = v.name;
    if (v.email) body.email = v.email;
    if (password) body.password = password;
    await busy(save, async () => {
      try {
        await ctx.api.request('POST', '/users', { body });
      } catch (err) {
        if (err instanceof SessionEnded) {
          // Kept: everything but the password; only whether one was typed, so it can be asked for again.
          saveDraft(route, { ...v, resume: true, passwordTyped: Boolean(password) });
          return sessionEnded(ctx, formSlot, route);
        }
        if (err instanceof ApiError && err.status === 409) {
          // The only conflict a new user meets: the username is taken.
          showFieldError(fields.username, summary(err));
          return fields.username.fieldControl.focus();
        }
        return showProblem(form, formSlot, err, { labels: USER_LABELS });
      }
      clearDraft(route);
      announce(`User ${body.username} added`);
      await onAdded(body.username);
    });
  });
  fill(pane, h('h2', { id: 'user-pane-title', tabindex: '-1' }, 'Add User'), draft && !draft.resume ? h('p', { class: 'note' }, RESTORED) : null, form);

  if (!draft?.resume) return fields.username.fieldControl.focus();
  // Back from signing in again: the save resumes once, by itself unless it needs the password.
  saveDraft(route, values());
  if (!draft.passwordTyped) return form.requestSubmit(save);
  formSlot.show('note', h('p', {}, PASSWORD_AGAIN));
  fields.password.fieldControl.focus();
}
