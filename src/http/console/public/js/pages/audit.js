// Audit: the trail of changes, sign-ins and failures, newest first, filtered by type, client or user.

import { SessionEnded } from '../api.js';
import { append, focus, h } from '../dom.js';
import { summary } from '../controls/field.js';

function describeActor(actor) {
  if (!actor) return '';
  if (actor.kind === 'user') return actor.username ? `user ${actor.username}` : `user ${actor.id}`;
  if (actor.kind === 'client') return `client ${actor.id}`;
  if (actor.kind === 'cli') return 'the CLI';
  if (actor.kind === 'system') return 'Keyhold';
  return 'someone not signed in';
}

function describeDetails(details) {
  const parts = [];
  for (const [key, value] of Object.entries(details ?? {})) {
    if ((key === 'before' || key === 'after') && value && typeof value === 'object') continue;
    parts.push(`${key}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
  if (details?.after && details?.before) {
    for (const key of Object.keys(details.after)) parts.push(`${key}: ${JSON.stringify(details.before[key])} → ${JSON.stringify(details.after[key])}`);
  }
  return parts.join('; ');
}

export function auditPage(ctx, main) {
  const typeSelect = h('select', { id: 'audit-type' }, h('option', { value: '' }, 'Any type'), (ctx.config.auditEventTypes ?? []).map((type) => h('option', { value: type }, type)));
  const clientInput = h('input', { type: 'text', id: 'audit-client', autocomplete: 'off', spellcheck: 'false', dir: 'ltr' });
  const userInput = h('input', { type: 'text', id: 'audit-user', autocomplete: 'off', spellcheck: 'false', dir: 'ltr' });
  const labelled = (id, label, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control);
  const filters = h(
    'form',
    { class: 'toolbar audit-filters', role: 'search', 'aria-label': 'Filter events' },
    labelled('audit-type', 'Type', typeSelect),
    labelled('audit-client', 'Client ID', clientInput),
    labelled('audit-user', 'User ID', userInput),
    h('button', { type: 'submit', text: 'Filter' }),
  );
  const body = h('tbody', {});
  const more = h('button', { type: 'button', class: 'secondary', text: 'Load more', hidden: true });
  const status = h('p', { class: 'muted' });
  main.replaceChildren(
    h('h1', { id: 'page-title', tabindex: '-1' }, 'Audit'),
    filters,
    h('table', { id: 'audit-table', class: 'stack' }, h('thead', {}, h('tr', {}, ['When', 'Event', 'By', 'About', 'From', 'Outcome', 'Details'].map((c) => h('th', { scope: 'col' }, c)))), body),
    status,
    more,
  );
  let cursor = null;
  const query = () => {
    const params = new URLSearchParams({ limit: '50' });
    if (typeSelect.value) params.set('type', typeSelect.value);
    if (clientInput.value.trim()) params.set('clientId', clientInput.value.trim());
    if (userInput.value.trim()) params.set('userId', userInput.value.trim());
    if (cursor) params.set('cursor', cursor);
    return params;
  };
  const load = async (reset) => {
    if (reset) {
      cursor = null;
      body.replaceChildren();
    }
    let page;
    try {
      page = await ctx.api.request('GET', `/audit-events?${query()}`);
    } catch (err) {
      if (err instanceof SessionEnded) return ctx.session.signIn(location.hash);
      status.textContent = summary(err);
      return;
    }
    append(
      body,
      page.items.map((event) =>
        h(
          'tr',
          { 'data-event-id': event.id, 'data-type': event.type },
          h('td', { 'data-label': 'When' }, h('time', { datetime: event.at }, new Date(event.at).toLocaleString())),
          h('td', { 'data-label': 'Event' }, event.type),
          h('td', { 'data-label': 'By', dir: 'auto' }, describeActor(event.actor)),
          h('td', { 'data-label': 'About', dir: 'auto' }, event.target ? `${event.target.kind} ${event.target.name ?? event.target.id}` : ''),
          h('td', { 'data-label': 'From' }, event.address ?? ''),
          h('td', { 'data-label': 'Outcome' }, event.outcome === 'success' ? h('span', { class: 'badge' }, 'Success') : h('span', { class: 'badge off' }, 'Failure')),
          h('td', { 'data-label': 'Details', class: 'details', dir: 'auto' }, describeDetails(event.details)),
        ),
      ),
    );
    cursor = page.nextCursor;
    more.hidden = !cursor;
    status.textContent = body.children.length ? '' : 'No events match.';
  };
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    void load(true);
  });
  more.addEventListener('click', () => void load(false));

  return {
    title: 'Audit',
    async show() {
      await load(true);
      focus(main.querySelector('h1'));
    },
  };
}
