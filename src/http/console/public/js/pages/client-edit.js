// Adding and editing a client, without ever losing what the admin typed: the form is kept as a draft
// under its route; an ended session resumes the save after signing in again; a lost connection keeps
// every input; a change made elsewhere meanwhile (412) is shown and can be reapplied.

import { ApiError, etagOf, SessionEnded } from '../api.js';
import { fill, focus, h, userText } from '../dom.js';
import { announce } from '../live.js';
import { clearDraft, loadDraft, saveDraft } from '../drafts.js';
import { conflictPanel } from '../controls/conflict.js';
import { createdDialog } from '../controls/dialog.js';
import { showProblem } from '../controls/field.js';
import { newSecretState, secretDialog } from '../controls/secret-dialog.js';
import { bodyOf, changesOf, clientForm, defaults, FIELD_LABELS, hasField, hasSecrets, TYPE_LABELS, valuesOf } from './client-form.js';

const clientPath = (id) => `/clients/${encodeURIComponent(id)}`;
export const detailsHash = (id) => `#/clients/${encodeURIComponent(id)}`;

/** A client that is gone (deleted here or elsewhere) takes its Edit and Add Secret drafts with it. */
export function forgetDrafts(id) {
  clearDraft(`${detailsHash(id)}/edit`);
  clearDraft(`${detailsHash(id)}/secrets/new`);
}

/**
 * Tells the admin the session ended and offers to sign in again, back to `route`; the draft (with
 * `resume`) is saved first. `onLeave` hears the departure.
 */
export function sessionEnded(ctx, slot, route, onLeave) {
  const again = () => {
    onLeave?.();
    return ctx.session.signIn(route);
  };
  slot.show(
    'error',
    h('p', {}, 'Your session has ended. What you entered is kept: sign in again and it will be saved.'),
    h('div', { class: 'actions' }, h('button', { type: 'button', text: 'Sign in again', onclick: again })),
  );
  focus(slot.el);
}

export function showNew(ctx, pane, type) {
  const route = `#/clients/new?type=${encodeURIComponent(type)}`;
  const draft = loadDraft(route);
  const state = { values: draft?.values ?? defaults(), secret: draft?.secret ?? newSecretState() };
  const keep = (extra = {}) => saveDraft(route, { values: state.values, secret: state.secret, ...extra });
  // A save interrupted by the end of the session resumes once, by itself, Add Secret window included;
  // any later Add (after a refusal, say) is the admin's own and opens the window as usual.
  let resuming = Boolean(draft?.resume);

  const done = (created) => {
    clearDraft(route);
    announce(`Client ${created.client.name} created`);
    createdDialog({
      title: 'Client Successfully Created',
      clientId: created.client.id,
      secret: created.secret,
      onClose: async () => {
        await ctx.refreshList();
        ctx.router.go(detailsHash(created.client.id));
      },
    });
  };

  const withSecret = (body, resume) => {
    const dlg = secretDialog({
      state: state.secret,
      onChange: () => keep(),
      submit: async (secret) => {
        let created;
        try {
          created = await ctx.api.request('POST', '/clients', { body: { ...body, secret } });
        } catch (err) {
          if (err instanceof SessionEnded) {
            keep({ resume: true });
            return sessionEnded(ctx, { show: dlg.showMessage, el: dlg.querySelector('.form-message') }, route);
          }
          const fieldsRefused = err instanceof ApiError && (err.problem.errors ?? []).some((p) => !String(p.path).startsWith('secret.'));
          if (!fieldsRefused) return dlg.showError(err, { prefix: 'secret.', labels: FIELD_LABELS });
          // The client's own fields are refused: back to the form; what the window held stays in `state`.
          dlg.close();
          return showProblem(form.form, form.slot, err, { labels: FIELD_LABELS });
        }
        dlg.close();
        done(created);
      },
    });
    if (resume) dlg.querySelector('form').requestSubmit();
  };

  const form = clientForm({
    type,
    values: state.values,
    roles: ctx.config.roles,
    isNew: true,
    submitLabel: 'Add',
    onChange: (values) => {
      state.values = values;
      keep();
    },
    onCancel: () => {
      clearDraft(route);
      ctx.router.go('#/clients');
    },
    onSubmit: async (values) => {
      const body = { type, ...bodyOf(type, values, { isNew: true }) };
      if (hasSecrets(type)) return withSecret(body, resuming);
      try {
        done(await ctx.api.request('POST', '/clients', { body }));
      } catch (err) {
        if (err instanceof SessionEnded) {
          keep({ resume: true });
          return sessionEnded(ctx, form.slot, route);
        }
        showProblem(form.form, form.slot, err, { labels: FIELD_LABELS });
      }
    },
  });
  fill(pane, h('h2', { id: 'pane-title', tabindex: '-1' }, `Add ${TYPE_LABELS[type]} Client`), draft && !draft.resume ? restoredNote() : null, form.form);
  if (resuming) {
    keep();
    form.submit();
    // The submit handler has read it (synchronously): from here on, Add is the admin's own.
    resuming = false;
  } else form.form.querySelector('input')?.focus();
}

export const RESTORED = 'Restored what you entered here before; select Cancel to discard it.';
const restoredNote = () => h('p', { class: 'note' }, RESTORED);

export async function showEdit(ctx, pane, id) {
  const route = `${detailsHash(id)}/edit`;
  const client = await ctx.api.request('GET', clientPath(id));
  if (ctx.stale?.()) return;
  ctx.select(client);
  const draft = loadDraft(route);
  const fromDraft = draft?.base?.id === client.id;
  const base = fromDraft ? draft.base : client;
  const values = fromDraft ? draft.values : valuesOf(client);
  const labels = Object.fromEntries(Object.keys(FIELD_LABELS).filter((key) => hasField(client.type, key)).map((key) => [key, FIELD_LABELS[key]]));
  let panel;

  const save = async (current) => {
    const changes = changesOf(base, bodyOf(client.type, current, { isNew: false }));
    if (!Object.keys(changes).length) {
      clearDraft(route);
      announce('Nothing to save: no field changed');
      return ctx.router.go(detailsHash(id));
    }
    try {
      await ctx.api.request('PATCH', clientPath(id), { body: changes, ifMatch: etagOf(base) });
    } catch (err) {
      if (err instanceof SessionEnded) {
        saveDraft(route, { base, values: current, resume: true });
        return sessionEnded(ctx, form.slot, route);
      }
      if (err instanceof ApiError && err.status === 412 && err.problem.current) return conflict(err.problem.current, current, changes);
      // Deleted meanwhile: nothing typed here can be saved any more (the form stays on screen to read).
      if (err instanceof ApiError && err.status === 404) forgetDrafts(id);
      return showProblem(form.form, form.slot, err, { labels: FIELD_LABELS });
    }
    clearDraft(route);
    announce('Client saved');
    await ctx.refreshList();
    ctx.router.go(detailsHash(id));
  };

  const conflict = (now, current, changes) => {
    saveDraft(route, { base, values: current });
    panel?.remove();
    panel = conflictPanel({
      what: 'client',
      base,
      current: now,
      mine: changes,
      labels,
      onReapply: () => {
        // Their changes stay wherever this admin changed nothing; the save resumes on the new version.
        const merged = { ...valuesOf(now), ...Object.fromEntries(Object.keys(changes).map((key) => [key, current[key]])), pending: current.pending };
        saveDraft(route, { base: now, values: merged, resume: true });
        ctx.router.go(route);
      },
      onDiscard: () => {
        clearDraft(route);
        ctx.router.go(detailsHash(id));
      },
    });
    form.form.before(panel);
    focus(panel);
  };

  const form = clientForm({
    type: client.type,
    values,
    roles: ctx.config.roles,
    isNew: false,
    submitLabel: 'Save',
    onChange: (current) => saveDraft(route, { base, values: current }),
    onCancel: () => {
      clearDraft(route);
      ctx.router.go(detailsHash(id));
    },
    onSubmit: save,
  });
  fill(pane, h('h2', { id: 'pane-title', tabindex: '-1' }, 'Edit ', userText(client.name)), fromDraft && !draft.resume ? restoredNote() : null, form.form);
  if (fromDraft && draft.resume) {
    saveDraft(route, { base, values });
    form.submit();
  } else form.form.querySelector('input')?.focus();
}
