import { messageOf, remove } from '../api.js';
import { h, replace, type Child } from '../dom.js';
import { confirmDialog } from './confirm-dialog.js';

/** A titled card holding a list that reloads itself; the three resource lists share it. */
export class ListCard<T> {
  readonly element: HTMLElement;
  private readonly list = h('ul', { class: 'items' });
  private readonly message = h('p', { role: 'status', class: 'muted' });

  constructor(
    title: string,
    id: string,
    private readonly load: () => Promise<T[]>,
    private readonly renderItem: (item: T) => Child[],
    private readonly empty: string,
  ) {
    this.element = h(
      'section',
      { class: 'card', id, 'aria-labelledby': `${id}-title` },
      h('h2', { id: `${id}-title` }, title),
      this.message,
      this.list,
    );
  }

  async refresh(): Promise<void> {
    try {
      const items = await this.load();
      this.message.textContent = items.length === 0 ? this.empty : '';
      this.message.classList.remove('error');
      replace(
        this.list,
        items.map((item) => h('li', {}, this.renderItem(item))),
      );
    } catch (error) {
      this.message.textContent = messageOf(error);
      this.message.classList.add('error');
    }
  }

  /** A delete button that asks first, then calls DELETE and reloads; `after` runs on success. */
  deleteButton(what: string, path: string, after: () => void): HTMLButtonElement {
    return h(
      'button',
      {
        type: 'button',
        class: 'danger small',
        'aria-label': `Delete ${what}`,
        onclick: async () => {
          if (!(await confirmDialog(`Delete ${what}? This cannot be undone.`, 'Delete'))) return;
          try {
            await remove(path);
            after();
            await this.refresh();
          } catch (error) {
            this.message.textContent = `Not deleted: ${messageOf(error)}`;
            this.message.classList.add('error');
          }
        },
      },
      'Delete',
    );
  }
}
