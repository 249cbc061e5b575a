// Hash routes: #/clients, #/clients?type=…&q=…, #/clients/new, #/clients/<id>, #/clients/<id>/edit,
// #/users, #/users/new, #/audit. Every view has its own URL, so Back and Forward work and selecting
// anything always routes, even what the pane showed before.

export function parseRoute(hash) {
  const [path, query = ''] = (hash || '#/clients').replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { hash: hash || '#/clients', page: parts[0] ?? 'clients', parts: parts.slice(1), query: new URLSearchParams(query) };
}

export function createRouter(onRoute) {
  const run = () => onRoute(parseRoute(location.hash));
  window.addEventListener('hashchange', run);
  return {
    start: run,
    /** Goes to `hash`, and routes even when it is the current one. */
    go(hash) {
      if (location.hash === hash) run();
      else location.hash = hash;
    },
    /** Shows `hash` in place of the current entry (after a delete, say). */
    replace(hash) {
      history.replaceState(null, '', `/admin/${hash}`);
      run();
    },
    get current() {
      return parseRoute(location.hash);
    },
  };
}
