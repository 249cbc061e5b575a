// The page's one live region (index.html): each message replaces the last, so nothing stacks. While a
// modal window is open the rest of the page is inert, so the region moves into the window and back.

const region = () => document.getElementById('live');

export function announce(message) {
  const el = region();
  const home = document.querySelector('dialog[open]') ?? document.body;
  if (el.parentElement !== home) home.append(el);
  el.textContent = '';
  // A change after a tick is announced even when the text repeats.
  setTimeout(() => (el.textContent = message), 50);
}

/** Puts the live region back in the page (a window closing takes it with it otherwise). */
export function rescueLiveRegion(dialog) {
  const el = region() ?? dialog.querySelector('#live');
  if (el && el.parentElement !== document.body) document.body.append(el);
}
