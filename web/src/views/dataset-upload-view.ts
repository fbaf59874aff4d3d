import { ApiError, messageOf, postForm } from '../api.js';
import type { Dataset } from '../api-types.js';
import { emit } from '../app-events.js';
import { formatBytes, formatCount, h, replace, uid } from '../dom.js';

/** Upload an archive (file picker or drop) and show its report: classes with counts, skipped files and why. */
export function datasetUploadView(): HTMLElement {
  const inputId = uid('dataset-file');
  const nameId = uid('dataset-name');
  const status = h('p', { role: 'status', class: 'muted' });
  const report = h('div', { 'data-testid': 'dataset-report', 'aria-live': 'polite' });
  const name = h('input', { id: nameId, type: 'text', maxlength: 200, placeholder: 'default: the file name' });
  const input = h('input', {
    id: inputId,
    type: 'file',
    accept: '.zip,.tar,.tar.gz,.tgz,application/zip,application/x-tar,application/gzip',
    'data-testid': 'dataset-upload',
    class: 'file-input',
  });

  async function upload(file: File) {
    const form = new FormData();
    if (name.value.trim()) form.append('name', name.value.trim());
    form.append('file', file, file.name);
    status.textContent = `Uploading ${file.name} (${formatBytes(file.size)})…`;
    status.classList.remove('error');
    try {
      const dataset = await postForm<Dataset>('/v1/datasets', form);
      status.textContent = `Uploaded ${dataset.name}.`;
      showReport(report, dataset);
      emit('datasets-changed');
      emit('dataset-selected', dataset.id);
    } catch (error) {
      status.textContent = `Upload failed: ${messageOf(error)}`;
      status.classList.add('error');
      if (error instanceof ApiError) status.setAttribute('role', 'alert');
    } finally {
      input.value = '';
    }
  }

  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) void upload(file);
  });
  const dropZone = h(
    'label',
    { for: inputId, class: 'drop-zone' },
    h('strong', {}, 'Choose an archive'),
    ' or drop it here',
    h('span', { class: 'muted' }, '.zip, .tar or .tar.gz of <class>/<image>, or train/ and val/'),
  );
  enableDrop(dropZone, (file) => void upload(file));

  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title' }, 'Upload a dataset'),
    h('div', { class: 'field' }, h('label', { for: nameId }, 'Name (optional)'), name),
    dropZone,
    input,
    status,
    report,
  );
}

/** Makes `zone` accept a dropped file. */
export function enableDrop(zone: HTMLElement, onFile: (file: File) => void): void {
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    const file = event.dataTransfer?.files[0];
    if (file) onFile(file);
  });
}

function showReport(container: HTMLElement, dataset: Dataset) {
  replace(
    container,
    h('h3', {}, `Report: ${dataset.name}`),
    h(
      'p',
      {},
      `${formatCount(dataset.images)} images in ${dataset.classes.length} classes (${dataset.layout === 'split' ? 'train/ and val/' : 'split for validation by the job'}), ${formatBytes(dataset.bytes)}. `,
      h('code', {}, dataset.id),
    ),
    h(
      'table',
      {},
      h('caption', {}, 'Classes'),
      h(
        'thead',
        {},
        h('tr', {}, h('th', { scope: 'col' }, 'Class'), h('th', { scope: 'col', class: 'num' }, 'Images')),
      ),
      h(
        'tbody',
        {},
        dataset.classes.map((c) => h('tr', {}, h('td', {}, c.name), h('td', { class: 'num' }, formatCount(c.count)))),
      ),
    ),
    dataset.skipped.length === 0
      ? h('p', {}, 'No files were skipped.')
      : h(
          'table',
          {},
          h('caption', {}, `Skipped files (${dataset.skipped.length})`),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'File'), h('th', { scope: 'col' }, 'Reason'))),
          h(
            'tbody',
            {},
            dataset.skipped.map((s) => h('tr', {}, h('td', { class: 'wrap' }, s.path), h('td', {}, s.reason))),
          ),
        ),
  );
}
