// Users: the list with its actions (unlock, disable or enable, reset a password, delete), beside the
// Add User form at #/users/new (user-add.js).

import { ApiError, etagOf, SessionEnded } from '../api.js';
import { busy, focus, h, userText } from '../dom.js';
import { announce } from '../live.js';
import { confirmAction, dialog } from '../controls/dialog.js';
import { clearErrors, field, messageSlot, showProblem, summary } from '../controls/field.js';
import { showAddUser, USER_LABELS as LABELS } from './user-add.js';

const userPath = (user) => `/users/${encodeURIComponent(user.id)}`;

export function usersPage(ctx, main) {
  const addButton = h('button', { type: 'button', id: 'add-user', text: 'Add User', onclick: () => ctx.router.go('#/users/new') });
  const listBody = h('div', {});
  const listRegion = h('section', { class: 'list', 'aria-labelledby': 'users-list-title' }, h('h2', { id: 'users-list-title' }, 'All users'), listBody);
  const pane = h('section', { class: 'pane', id: 'user-pane', 'aria-labelledby': 'user-pane-title', hidden: true });
  const split = h('div', { class: 'split' }, listRegion, pane);
  const slot = messageSlot();
  main.replaceChildren(h('h1', { id: 'page-title', tabindex: '-1' }, 'Users'), slot.el, h('div', { class: 'toolbar' }, addButton), split);
  let loaded = false;

  const refused = (err) => {
    if (err instanceof SessionEnded) return ctx.session.signIn(location.hash);
    if (err instanceof ApiError && err.status === 412) slot.show('error', h('p', {}, 'Someone else changed this user since the list was loaded. The list now shows them as they are: check, then try again.'));
    else slot.show('error', h('p', {}, summary(err)));
    focus(slot.el);
  };
  const rowSelector = (user, action) => `tr[data-user-id="${CSS.escape(user.id)}"] [data-action="${action}"]`;

  async function load(focusSelector) {
    let users;
    try {
      users = await ctx.api.listAll('/users?limit=100');
    } catch (err) {
      if (err instanceof SessionEnded) return ctx.session.signIn(location.hash);
      listBody.replaceChildren(h('p', { class: 'alert' }, summary(err)));
      return;
    }
    loaded = true;
    const action = (user, name, text, onclick) =>
      h('button', { type: 'button', class: 'secondary small', 'data-action': name, 'aria-label': `${text} ${user.username}`, text, onclick: () => onclick(user) });
    const rows = users.map((user) =>
      h(
        'tr',
        { 'data-user-id': user.id, 'data-username': user.username },
        h('td', { class: 'name' }, userText(user.username, 'strong')),
        h('td', { 'data-label': 'Name' }, userText(user.name)),
        h('td', { 'data-label': 'Email' }, h('span', { class: 'mono', dir: 'auto' }, user.email ?? '')),
        h('td', { 'data-label': 'Roles' }, (user.roles ?? []).join(', ')),
        h(
          'td',
          { 'data-label': 'Status' },
          user.disabled ? h('span', { class: 'badge off' }, 'Disabled') : h('span', { class: 'badge' }, 'Active'),
          user.lockedUntil ? [' ', h('span', { class: 'badge off' }, `Locked until ${new Date(user.lockedUntil).toLocaleTimeString()}`)] : null,
        ),
        h(
          'td',
          {},
          h('div', { class: 'actions' }, [
            user.lockedUntil ? action(user, 'unlock', 'Unlock', unlock) : null,
            action(user, user.disabled ? 'enable' : 'disable', user.disabled ? 'Enable' : 'Disable', toggle),
            // The accessible name starts with the visible label (WCAG 2.5.3).
            action(user, 'reset-password', 'Reset password', resetPassword),
            action(user, 'delete', 'Delete', remove),
          ]),
        ),
      ),
    );
    listBody.replaceChildren(
      h(
        'table',
        { id: 'users-table', class: 'stack' },
        h('thead', {}, h('tr', {}, ['Username', 'Name', 'Email', 'Roles', 'Status', h('span', { class: 'visually-hidden' }, 'Actions')].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows),
      ),
    );
    if (focusSelector) focus(listBody.querySelector(focusSelector));
  }

  /** Resolves true when `work` succeeded; a refusal is shown in the page's message, which gets focus. */
  async function act(work, message, focusSelector) {
    slot.clear();
    try {
      await work();
    } catch (err) {
      refused(err);
      await load();
      return false;
    }
    announce(message);
    await load(focusSelector);
    return true;
  }

  const toggle = (user) =>
    act(() => ctx.api.request('PATCH', userPath(user), { body: { disabled: !user.disabled }, ifMatch: etagOf(user) }), `${user.username} ${user.disabled ? 'enabled' : 'disabled'}`, rowSelector(user, user.disabled ? 'disable' : 'enable'));

  const unlock = (user) => act(() => ctx.api.request('POST', `${userPath(user)}/unlock`), `${user.username} unlocked`, rowSelector(user, 'disable'));

  const remove = async (user) => {
    if (!(await confirmAction('Delete user', `Delete ${user.username}? They can no longer sign in, and their tokens stop working.`, 'Delete'))) return;
    // Deleted, its row is gone: focus goes to Add User. Refused, the message has it (refused above).
    if (await act(() => ctx.api.request('DELETE', userPath(user), { ifMatch: etagOf(user) }), `${user.username} deleted`)) focus(addButton);
  };

  function resetPassword(user) {
    const password = field({ path: 'password', label: 'New password', control: h('input', { type: 'password', autocomplete: 'new-password', required: true }), hint: 'Tell the user their new password through a channel you trust.' });
    const dlgSlot = messageSlot();
    const save = h('button', { type: 'submit', text: 'Reset password' });
    const form = h('form', { novalidate: true }, dlgSlot.el, h('p', {}, 'For ', userText(user.username, 'strong'), '.'), password, h('div', { class: 'actions' }, save, h('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => dlg.close() })));
    const dlg = dialog('Reset password', form);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      await busy(save, async () => {
        try {
          await ctx.api.request('PATCH', userPath(user), { body: { password: password.fieldControl.value } });
        } catch (err) {
          // A password is never kept for the round trip to the sign-in page: the admin types it again after.
          if (err instanceof SessionEnded) {
            dlgSlot.show(
              'error',
              h('p', {}, 'Your session has ended. Sign in again, then reset the password once more: passwords are never kept.'),
              h('div', { class: 'actions' }, h('button', { type: 'button', text: 'Sign in again', onclick: () => ctx.session.signIn(location.hash) })),
            );
            return focus(dlgSlot.el);
          }
          // Any other refusal: the typed password stays in the box.
          return showProblem(form, dlgSlot, err, { labels: LABELS });
        }
        dlg.close();
        slot.show('note', h('p', {}, `The password of ${user.username} was reset.`));
      });
    });
    dlg.showModal();
    password.fieldControl.focus();
  }

  async function added(username) {
    await load();
    // Back to the list without routing again, so focus lands on the new user's row.
    history.pushState(null, '', '/admin/#/users');
    pane.hidden = true;
    split.classList.remove('open');
    focus(listBody.querySelector(`tr[data-username="${CSS.escape(username)}"] button`));
  }

  async function show(route) {
    if (!loaded) await load();
    const adding = route.parts[0] === 'new';
    pane.hidden = !adding;
    split.classList.toggle('open', adding);
    if (adding) showAddUser(ctx, pane, { onAdded: added, onCancel: () => ctx.router.go('#/users') });
    else focus(main.querySelector('h1'));
  }

  return { show, title: 'Users' };
}
