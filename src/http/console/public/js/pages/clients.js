// Security > Clients: the list (by type, with a search box) beside a pane showing one client, the Add
// form or the Edit form, each at its own route.

import { CLIENT_TYPES } from '../rules/client-rules.js';
import { SessionEnded } from '../api.js';
import { code, focus, formatDate, h } from '../dom.js';
import { messageSlot, summary } from '../controls/field.js';
import { detailsHash, showEdit, showNew } from './client-edit.js';
import { showDetails } from './client-details.js';
import { TYPE_LABELS } from './client-form.js';

const TYPE_KEY = 'keyhold.console.type';

export function clientsPage(ctx, main) {
  // `view` and `listed` count the views and list loads asked for: an answer that comes back after a newer
  // one was asked for is dropped, so a slow request never paints over what the admin chose since.
  const state = { type: sessionStorage.getItem(TYPE_KEY) ?? 'hybrid', q: '', selected: undefined, loaded: false, view: 0, listed: 0 };
  if (!CLIENT_TYPES.includes(state.type)) state.type = 'hybrid';

  const typeSelect = h('select', { id: 'client-type' }, CLIENT_TYPES.map((type) => h('option', { value: type, selected: type === state.type }, TYPE_LABELS[type])));
  const search = h('input', { type: 'search', id: 'client-search', autocomplete: 'off', spellcheck: 'false', dir: 'auto', placeholder: 'Name or client id' });
  const addButton = h('button', { type: 'button', id: 'add-client', text: 'Add Client', onclick: () => ctx.router.go(`#/clients/new?type=${encodeURIComponent(state.type)}`) });
  const listTitle = h('h2', { id: 'clients-list-title' });
  const listBody = h('div', { class: 'list-body' });
  const count = h('p', { class: 'muted count' });
  const listRegion = h('section', { class: 'list', 'aria-labelledby': 'clients-list-title' }, listTitle, count, listBody);
  const pane = h('section', { class: 'pane', id: 'client-pane', 'aria-labelledby': 'pane-title', hidden: true });
  const split = h('div', { class: 'split' }, listRegion, pane);
  const slot = messageSlot();
  main.replaceChildren(
    h('h1', { id: 'page-title', tabindex: '-1' }, 'Clients'),
    slot.el,
    h(
      'div',
      { class: 'toolbar' },
      h('div', { class: 'field' }, h('label', { for: 'client-type' }, 'Client Type'), typeSelect),
      h('div', { class: 'field search', role: 'search' }, h('label', { for: 'client-search' }, 'Search clients'), search),
      addButton,
    ),
    split,
  );

  const showPane = (open) => {
    pane.hidden = !open;
    split.classList.toggle('open', open);
  };

  const markSelected = () => {
    for (const link of listBody.querySelectorAll('a[data-client-id]')) {
      const mine = link.dataset.clientId === state.selected;
      link.closest('tr').classList.toggle('selected', mine);
      if (mine) link.setAttribute('aria-current', 'true');
      else link.removeAttribute('aria-current');
    }
  };

  async function refreshList() {
    listTitle.textContent = `${TYPE_LABELS[state.type]} clients`;
    const params = new URLSearchParams({ type: state.type, limit: '100' });
    if (state.q) params.set('q', state.q);
    const asked = ++state.listed;
    let items;
    try {
      items = await ctx.api.listAll(`/clients?${params}`);
    } catch (err) {
      if (asked !== state.listed) return;
      if (err instanceof SessionEnded) return ctx.session.signIn(location.hash);
      listBody.replaceChildren(h('p', { class: 'alert' }, summary(err)));
      return;
    }
    if (asked !== state.listed) return;
    state.loaded = true;
    count.textContent = state.q ? `${items.length} matching “${state.q}”` : `${items.length} in all`;
    const rows = items.map((client) => {
      const link = h('a', { href: detailsHash(client.id), 'data-client-id': client.id, dir: 'auto' }, client.name);
      // The pane may show something else at this very URL (an error, say): select it again anyway.
      link.addEventListener('click', (event) => {
        if (location.hash === link.getAttribute('href')) {
          event.preventDefault();
          ctx.router.go(link.getAttribute('href'));
        }
      });
      return h(
        'tr',
        {},
        h('td', { class: 'name' }, link),
        h('td', { 'data-label': 'Client Id' }, code(client.id)),
        h('td', { 'data-label': 'Status' }, client.enabled ? h('span', { class: 'badge' }, 'Enabled') : h('span', { class: 'badge off' }, 'Disabled')),
        h('td', { 'data-label': 'Created' }, formatDate(client.createdAt)),
      );
    });
    listBody.replaceChildren(
      rows.length
        ? h(
            'table',
            { id: 'clients-table', class: 'stack' },
            h('thead', {}, h('tr', {}, ['Name', 'Client Id', 'Status', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', {}, rows),
          )
        : h('p', { class: 'muted' }, state.q ? 'No client matches your search.' : `No ${TYPE_LABELS[state.type].toLowerCase()} clients yet. Select Add Client to create one.`),
    );
    markSelected();
  }

  const setType = async (type) => {
    if (type === state.type && state.loaded) return;
    state.type = type;
    typeSelect.value = type;
    sessionStorage.setItem(TYPE_KEY, type);
    await refreshList();
  };

  const paneCtx = {
    ...ctx,
    refreshList,
    select: (client) => {
      state.selected = client.id;
      void setType(client.type).then(markSelected);
      markSelected();
    },
  };

  typeSelect.addEventListener('change', () => {
    // Another type's list: the pane (a client of the old type, or its Add form) closes first.
    if (location.hash !== '#/clients') ctx.router.go('#/clients');
    void setType(typeSelect.value);
  });
  let timer;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.q = search.value.trim();
      void refreshList();
    }, 250);
  });

  /** Shows the pane the route names: nothing, the Add form, a client, or its Edit form. */
  async function show(route) {
    const [id, action] = route.parts;
    const view = ++state.view;
    const viewCtx = { ...paneCtx, stale: () => view !== state.view };
    if (!state.loaded) await refreshList();
    if (viewCtx.stale()) return;
    state.selected = undefined;
    slot.clear();
    try {
      if (!id) {
        showPane(false);
        markSelected();
        return focus(main.querySelector('h1'));
      }
      showPane(true);
      if (id === 'new') {
        const type = route.query.get('type') ?? state.type;
        await setType(CLIENT_TYPES.includes(type) ? type : 'hybrid');
        markSelected();
        if (viewCtx.stale()) return;
        return showNew(viewCtx, pane, state.type);
      }
      if (action === 'edit') return await showEdit(viewCtx, pane, id);
      await showDetails(viewCtx, pane, id);
    } catch (err) {
      if (viewCtx.stale()) return;
      if (err instanceof SessionEnded) return ctx.session.signIn(route.hash);
      pane.replaceChildren(h('h2', { id: 'pane-title', tabindex: '-1' }, 'Client'), h('p', { class: 'alert' }, summary(err)));
      focus(pane.querySelector('h2'));
    }
  }

  return { show, title: 'Clients' };
}
