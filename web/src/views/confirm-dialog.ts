import { h } from '../dom.js';

/** A modal yes/no question (a native <dialog>: focus trapping and Escape come with it). */
export function confirmDialog(question: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-label': question },
      h(
        'form',
        { method: 'dialog' },
        h('p', {}, question),
        h(
          'div',
          { class: 'actions' },
          h('button', { value: 'cancel', type: 'submit', autofocus: true }, 'Cancel'),
          h('button', { value: 'confirm', type: 'submit', class: 'danger' }, confirmLabel),
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'confirm');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
