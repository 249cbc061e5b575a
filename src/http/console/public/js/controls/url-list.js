// A URL list: a text box, an Add button putting its value in the list once it passes the very rules
// the API applies (rules/client-rules.js, served by Keyhold), and a Remove button per item.

import { urlListItemProblem } from '../rules/client-rules.js';
import { code, h } from '../dom.js';
import { announce } from '../live.js';
import { describeProblem } from '../messages.js';
import { clearFieldError, field, showFieldError } from './field.js';

export function urlList({ path, label, hint, values = [], max, placeholder, onChange }) {
  const input = h('input', { type: 'url', inputmode: 'url', autocomplete: 'off', spellcheck: 'false', dir: 'ltr', placeholder });
  const list = h('ul', { class: 'items', 'aria-label': `${label} list` });
  const count = h('p', { class: 'hint count' });
  let items = values.map((value) => ({ value }));

  const render = () => {
    list.replaceChildren();
    if (!items.length) list.append(h('li', { class: 'empty' }, 'None yet.'));
    for (const item of items) {
      item.element = h(
        'li',
        {},
        code(item.value),
        h('button', {
          type: 'button',
          class: 'secondary small',
          'aria-label': `Remove ${item.value}`,
          text: 'Remove',
          onclick: () => {
            items = items.filter((i) => i !== item);
            render();
            clearFieldError(wrapper);
            input.focus();
            announce(`Removed ${item.value}`);
            onChange?.();
          },
        }),
      );
      list.append(item.element);
    }
    count.textContent = `${items.length} of ${max}`;
  };

  /** Adds what is typed; false (with the reason beside the box) when a rule refuses it. */
  const add = () => {
    const value = input.value.trim();
    clearFieldError(wrapper);
    if (!value) return true;
    const problem = urlListItemProblem(path, value, items.map((i) => i.value));
    if (problem) {
      const message = describeProblem(problem);
      showFieldError(wrapper, `“${value}”: ${message}`);
      if (problem.code === 'duplicate') items.find((i) => i.value === value)?.element.classList.add('invalid');
      announce(`Not added: ${message}`);
      return false;
    }
    items.push({ value });
    input.value = '';
    render();
    announce(`Added ${value}`);
    onChange?.();
    return true;
  };

  input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    add();
  });
  // The button shows +; its name says what it does (the + is not read out).
  const addButton = h(
    'button',
    { type: 'button', class: 'secondary plus', onclick: () => (add(), input.focus()) },
    h('span', { 'aria-hidden': 'true' }, '+'),
    h('span', { class: 'visually-hidden' }, `Add to ${label}`),
  );
  const wrapper = field({ path, label, control: input, hint });
  const adder = h('div', { class: 'adder' });
  input.replaceWith(adder);
  adder.append(input, addButton);
  (wrapper.querySelector('.hint') ?? wrapper.fieldError).before(list, count);
  render();

  wrapper.listItems = () => items;
  /** Adds text typed but not yet added; false when it is refused (the error shows). */
  wrapper.commitPending = add;
  wrapper.values = () => items.map((i) => i.value);
  wrapper.pendingText = () => input.value;
  wrapper.setPendingText = (text) => (input.value = text ?? '');
  return wrapper;
}
