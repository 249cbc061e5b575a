// What to show when a save meets 412 (someone else changed the thing since it was read): what they
// changed, what this admin changed, which fields both touched, and the choice to reapply or discard.

import { h } from '../dom.js';

const show = (value) => {
  if (Array.isArray(value)) return value.length ? value.join(', ') : '(none)';
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (value === null || value === undefined || value === '') return '(empty)';
  return String(value);
};

const differs = (a, b) => JSON.stringify(a) !== JSON.stringify(b);

/**
 * `base` is what the form was opened on, `current` what the server holds now, `mine` the changes
 * this admin made (field → value). `fields` names the fields worth comparing, with their labels.
 */
export function conflictPanel({ what, base, current, mine, labels, onReapply, onDiscard }) {
  const theirs = Object.keys(labels).filter((key) => differs(base[key], current[key]));
  const both = Object.keys(mine).filter((key) => theirs.includes(key));
  const row = (key, from, to) =>
    h('li', { class: both.includes(key) ? 'clash' : undefined }, h('strong', {}, labels[key] ?? key), ': ', h('span', { dir: 'auto' }, show(from)), ' → ', h('span', { dir: 'auto' }, show(to)), both.includes(key) ? ' (you changed it too)' : null);
  const reapply = h('button', { type: 'button', text: 'Save my changes again', onclick: onReapply });
  return h(
    'section',
    { class: 'conflict alert', 'aria-labelledby': 'conflict-title', tabindex: '-1' },
    h('h3', { id: 'conflict-title' }, `Someone else changed this ${what} while you were editing`),
    theirs.length
      ? [h('p', {}, 'Their changes, now saved:'), h('ul', {}, theirs.map((key) => row(key, base[key], current[key])))]
      : h('p', {}, `Its secrets or status changed; its settings are as you found them.`),
    h('p', {}, 'Your changes, not saved yet:'),
    h('ul', {}, Object.keys(mine).map((key) => row(key, base[key], mine[key]))),
    h('p', { class: 'hint' }, both.length ? 'Saving again replaces their value wherever you both changed a field.' : 'Saving again keeps their changes and adds yours.'),
    h('div', { class: 'actions' }, reapply, h('button', { type: 'button', class: 'secondary', text: 'Discard my changes', onclick: onDiscard })),
  );
}
