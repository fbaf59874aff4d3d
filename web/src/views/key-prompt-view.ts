import { setApiKey } from '../api-key.js';
import { h, uid } from '../dom.js';

/** Asks for an API key (the server has API_KEYS set) and resolves once one is entered. */
export function promptForKey(container: HTMLElement, message?: string): Promise<void> {
  return new Promise((resolve) => {
    const id = uid('api-key');
    const input = h('input', {
      id,
      type: 'password',
      autocomplete: 'off',
      required: true,
      'data-testid': 'api-key',
    });
    const form = h(
      'form',
      { class: 'card key-prompt', 'aria-labelledby': `${id}-title` },
      h('h2', { id: `${id}-title` }, 'API key required'),
      h(
        'p',
        {},
        'This server requires an API key. It is kept in this tab only (session storage) and sent as a bearer token.',
      ),
      message ? h('p', { role: 'alert', class: 'error' }, message) : null,
      h('label', { for: id }, 'API key'),
      input,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Continue')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      setApiKey(input.value.trim());
      form.remove();
      resolve();
    });
    container.replaceChildren(form);
    input.focus();
  });
}
