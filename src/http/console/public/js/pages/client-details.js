// A client's Details pane: its settings, Edit and Delete, and its secrets (add, remove).

import { ApiError, etagOf, SessionEnded } from '../api.js';
import { code, fill, focus, formatDate, h, userText } from '../dom.js';
import { announce } from '../live.js';
import { confirmAction, createdDialog } from '../controls/dialog.js';
import { messageSlot, summary } from '../controls/field.js';
import { newSecretState, secretDialog } from '../controls/secret-dialog.js';
import { clearDraft, loadDraft, saveDraft } from '../drafts.js';
import { FIELD_LABELS, hasField, hasSecrets, TYPE_LABELS } from './client-form.js';
import { detailsHash, forgetDrafts, RESTORED, sessionEnded } from './client-edit.js';

const clientPath = (id) => `/clients/${encodeURIComponent(id)}`;

export async function showDetails(ctx, pane, id, { focusTitle = true, notice } = {}) {
  const client = await ctx.api.request('GET', clientPath(id));
  if (ctx.stale?.()) return;
  ctx.select(client);
  const slot = messageSlot();
  const refused = (err) => {
    if (err instanceof SessionEnded) return ctx.session.signIn(detailsHash(id));
    slot.show('error', h('p', {}, summary(err)));
    focus(slot.el);
  };
  const urls = (values) => (values?.length ? h('ul', { class: 'items' }, values.map((v) => h('li', {}, code(v)))) : h('span', { class: 'muted' }, 'None'));
  const settings = [
    ['Client Id', code(client.id, { id: 'details-client-id' })],
    ['Type', TYPE_LABELS[client.type]],
    ['Status', client.enabled ? 'Enabled' : 'Disabled'],
    hasField(client.type, 'allowRefreshToken') && [FIELD_LABELS.allowRefreshToken, client.allowRefreshToken ? 'Yes' : 'No'],
    hasField(client.type, 'redirectUris') && [FIELD_LABELS.redirectUris, urls(client.redirectUris)],
    hasField(client.type, 'postLogoutRedirectUris') && [FIELD_LABELS.postLogoutRedirectUris, urls(client.postLogoutRedirectUris)],
    hasField(client.type, 'allowedCorsOrigins') && [FIELD_LABELS.allowedCorsOrigins, urls(client.allowedCorsOrigins)],
    hasField(client.type, 'roles') && [FIELD_LABELS.roles, client.roles?.length ? client.roles.join(', ') : 'None'],
    [FIELD_LABELS.accessTokenLifetime, `${client.accessTokenLifetime} seconds`],
    ['Created', formatDate(client.createdAt)],
    ['Updated', formatDate(client.updatedAt)],
  ].filter(Boolean);

  const editButton = h('button', { type: 'button', text: 'Edit', id: 'edit-client', onclick: () => ctx.router.go(`${detailsHash(id)}/edit`) });
  const deleteButton = h('button', {
    type: 'button',
    class: 'danger',
    text: 'Delete Client',
    id: 'delete-client',
    onclick: async () => {
      const yes = await confirmAction('Delete client', `Delete “${client.name}”? Applications using it can no longer sign users in, and its tokens stop working at once.`, 'Delete');
      if (!yes) return deleteButton.focus();
      try {
        await ctx.api.request('DELETE', clientPath(id), { ifMatch: etagOf(client) });
      } catch (err) {
        if (err instanceof ApiError && err.status === 412) {
          return showDetails(ctx, pane, id, { notice: 'Someone else changed this client since you opened it; here it is as it is now. Delete it again if you still mean to.' });
        }
        return refused(err);
      }
      forgetDrafts(id);
      announce(`Client ${client.name} deleted`);
      await ctx.refreshList();
      ctx.router.replace('#/clients');
    },
  });

  fill(
    pane,
    h('h2', { id: 'pane-title', tabindex: '-1', dir: 'auto' }, client.name),
    slot.el,
    h('h3', {}, 'Settings'),
    h('dl', { class: 'settings' }, settings.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('div', { class: 'actions' }, editButton, deleteButton),
    h('p', { class: 'hint' }, 'Changes take effect on the application’s next request.'),
    hasSecrets(client.type) ? secretsSection(ctx, pane, client, refused) : null,
  );
  if (notice) refused(new Error(notice));
  else if (focusTitle) focus(pane.querySelector('#pane-title'));
}

function secretsSection(ctx, pane, client, refused) {
  const secrets = client.secrets ?? [];
  const reload = async (selector) => {
    await showDetails(ctx, pane, client.id, { focusTitle: false });
    focus(pane.querySelector(selector) ?? pane.querySelector('#add-secret'));
  };
  const rows = secrets.map((secret) => {
    const name = secret.description || 'without a description';
    const expired = secret.expiresAt && new Date(secret.expiresAt) < new Date();
    const remove = async (event) => {
      const yes = await confirmAction('Remove secret', `Remove the secret “${name}”? Applications using it fail at the token endpoint from their next request.`, 'Remove');
      if (!yes) return event.target.focus();
      try {
        await ctx.api.request('DELETE', `${clientPath(client.id)}/secrets/${encodeURIComponent(secret.id)}`);
      } catch (err) {
        return refused(err);
      }
      announce('Secret removed');
      await reload('#add-secret');
    };
    return h(
      'tr',
      { 'data-secret-id': secret.id },
      h('td', { 'data-label': 'Description' }, secret.description ? userText(secret.description) : h('span', { class: 'muted' }, '(no description)')),
      h('td', { 'data-label': 'Expires' }, secret.expiresAt ? formatDate(secret.expiresAt) : 'Never', expired ? [' ', h('span', { class: 'badge off' }, 'Expired')] : null),
      h('td', { 'data-label': 'Last used' }, secret.lastUsedAt ? formatDate(secret.lastUsedAt) : h('span', { class: 'muted' }, 'Never used')),
      h('td', { 'data-label': 'Created' }, formatDate(secret.createdAt)),
      h('td', {}, h('button', { type: 'button', class: 'secondary small', text: 'Remove', 'aria-label': `Remove secret ${name}`, onclick: remove })),
    );
  });
  const full = secrets.length >= 10;
  // The Add Secret window's input is a draft of its own: it outlives a reload and the round trip to the
  // sign-in page when the session ends mid-add (the window reopens, and the add resumes by itself).
  const route = `${detailsHash(client.id)}/secrets/new`;
  const draft = loadDraft(route);
  const state = draft?.secret ?? newSecretState();
  const keep = (extra = {}) => saveDraft(route, { secret: state, ...extra });
  const open = (resume, restored = false) => {
    let leaving = false;
    const dlg = secretDialog({
      state,
      onChange: () => keep(),
      submit: async (body) => {
        let secret;
        try {
          secret = await ctx.api.request('POST', `${clientPath(client.id)}/secrets`, { body });
        } catch (err) {
          if (err instanceof SessionEnded) {
            keep({ resume: true });
            return sessionEnded(ctx, { show: dlg.showMessage, el: dlg.querySelector('.form-message') }, detailsHash(client.id), () => (leaving = true));
          }
          return dlg.showError(err, { labels: FIELD_LABELS });
        }
        dlg.close();
        createdDialog({ title: 'Secret Successfully Added', secret, onClose: () => reload('#add-secret') });
      },
    });
    // Closed (added, Cancel, Escape): the draft goes; left for the sign-in page or closed by a route
    // change (Back, a link): it stays, and coming back here opens the window again.
    dlg.addEventListener('close', () => leaving || dlg.navigating || clearDraft(route));
    if (resume) {
      keep();
      dlg.querySelector('form').requestSubmit();
    } else if (restored) dlg.showMessage('note', h('p', {}, RESTORED));
  };
  const addSecret = h('button', {
    type: 'button',
    id: 'add-secret',
    text: 'Add Secret',
    'aria-describedby': full ? 'secrets-full' : undefined,
    onclick: () => {
      if (full) return refused(new Error('A client holds at most 10 secrets: remove one to add another.'));
      keep();
      open(false);
    },
  });
  // Once the pane is painted (and its title focused), a window left open reopens with what it held.
  if (draft && !full) setTimeout(() => open(Boolean(draft.resume), true), 0);
  return h(
    'section',
    { 'aria-labelledby': 'secrets-title' },
    h('h3', { id: 'secrets-title' }, 'Secrets'),
    rows.length
      ? h(
          'table',
          { id: 'secrets-table', class: 'stack' },
          h('thead', {}, h('tr', {}, ['Description', 'Expires', 'Last used', 'Created', h('span', { class: 'visually-hidden' }, 'Actions')].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, rows),
        )
      : h('p', { class: 'muted' }, 'This client has no secrets: it cannot get tokens until you add one.'),
    h('div', { class: 'actions' }, addSecret),
    full ? h('p', { class: 'hint', id: 'secrets-full' }, 'A client holds at most 10 secrets; remove one to add another.') : null,
  );
}
