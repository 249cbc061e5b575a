// Security > Clients: the list (by type, with a search box) beside a pane showing one client, the Add
// form or the Edit form, each at its own route.

import { CLIENT_TYPES } from '../rules/client-rules.js';
import { ApiError, SessionEnded } from '../api.js';
import { code, focus, formatDate, h } from '../dom.js';
import { messageSlot, summary } from '../controls/field.js';
import { detailsHash, forgetDrafts, showEdit, showNew } from './client-edit.js';
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
  // The type chosen last, even before its list route has run.
  const addButton = h('button', { type: 'button', id: 'add-client', text: 'Add Client', onclick: () => ctx.router.go(`#/clients/new?type=${encodeURIComponent(typeSelect.value)}`) });
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

  /** The list's own route, holding the filter: #/clients?type=…&q=… (Back and a reload keep it). */
  const listHash = (type = state.type, q = state.q) => `#/clients?${new URLSearchParams({ type, ...(q ? { q } : {}) })}`;

  /**
   * Takes the filter from the list route's query; a bare #/clients (the navigation link, Cancel) keeps
   * the filter as it is. Answers whether the list must load again.
   */
  const filterFrom = (query) => {
    const type = query.get('type');
    if (!type || !CLIENT_TYPES.includes(type)) return false;
    const q = (query.get('q') ?? '').trim();
    const changed = type !== state.type || q !== state.q;
    state.type = type;
    state.q = q;
    typeSelect.value = type;
    if (search.value.trim() !== q) search.value = q;
    sessionStorage.setItem(TYPE_KEY, type);
    return changed;
  };

  typeSelect.addEventListener('change', () => {
    // Another type's list, at its own route: the pane (a client of the old type, or its Add form) closes.
    ctx.router.go(listHash(typeSelect.value));
  });
  let timer;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.q = search.value.trim();
      // On the list's route the search is kept in it, in place: one history entry per list, not per key.
      const route = ctx.router.current;
      if (route.page === 'clients' && !route.parts.length) history.replaceState(null, '', `/admin/${listHash()}`);
      void refreshList();
    }, 250);
  });

  /** Shows the pane the route names: nothing, the Add form, a client, or its Edit form. */
  async function show(route) {
    const [id, action] = route.parts;
    const view = ++state.view;
    const viewCtx = { ...paneCtx, stale: () => view !== state.view };
    const filtered = !id && filterFrom(route.query);
    if (!state.loaded || filtered) await refreshList();
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
      // It no longer exists: nothing typed for it can ever be saved.
      if (err instanceof ApiError && err.status === 404 && id !== 'new') forgetDrafts(id);
      if (viewCtx.stale()) return;
      if (err instanceof SessionEnded) return ctx.session.signIn(route.hash);
      pane.replaceChildren(h('h2', { id: 'pane-title', tabindex: '-1' }, 'Client'), h('p', { class: 'alert' }, summary(err)));
      focus(pane.querySelector('h2'));
    }
  }

  return { show, title: 'Clients' };
}
