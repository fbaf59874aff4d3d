import type { Static } from '@sinclair/typebox';
import type { PredictResponseSchema } from '../../../src/schemas/models.js';
import { messageOf, postForm } from '../api.js';
import type { Model } from '../api-types.js';
import { formatPercent, h, replace, uid } from '../dom.js';
import { enableDrop } from './dataset-upload-view.js';

type Prediction = Static<typeof PredictResponseSchema>['predictions'][number];

/** Try a model: pick or drop an image and see its top-5 classes as bars. */
export function predictView(model: Model): HTMLElement {
  const inputId = uid('predict-file');
  const result = h('div', { 'data-testid': 'prediction-result', 'aria-live': 'polite' });
  const preview = h('img', { alt: '', class: 'preview', hidden: true });
  const input = h('input', {
    id: inputId,
    type: 'file',
    accept: 'image/*',
    class: 'file-input',
    'data-testid': 'predict-upload',
  });

  async function predict(file: File) {
    const form = new FormData();
    form.append('file', file, file.name);
    replace(result, h('p', { role: 'status' }, `Classifying ${file.name}…`));
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    preview.alt = file.name;
    preview.hidden = false;
    try {
      const { predictions } = await postForm<{ predictions: Prediction[] }>(
        `/v1/models/${encodeURIComponent(model.id)}/predict?topK=5`,
        form,
      );
      showBars(result, predictions[0]!);
    } catch (error) {
      replace(result, h('p', { role: 'alert', class: 'error' }, messageOf(error)));
    } finally {
      input.value = '';
    }
  }

  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) void predict(file);
  });
  const zone = h('label', { for: inputId, class: 'drop-zone' }, h('strong', {}, 'Choose an image'), ' or drop it here');
  enableDrop(zone, (file) => void predict(file));
  return h('div', {}, h('h3', {}, 'Try it'), zone, input, h('div', { class: 'prediction' }, preview, result));
}

function showBars(container: HTMLElement, prediction: Prediction) {
  replace(
    container,
    h('p', {}, 'Top class: ', h('strong', {}, prediction.label), ` (${formatPercent(prediction.probability)})`),
    h(
      'ol',
      { class: 'bars', 'aria-label': 'Top classes' },
      prediction.topK.map((p) => {
        const bar = h('span', { class: 'bar' });
        bar.style.width = `${Math.max(0.5, p.probability * 100)}%`;
        return h(
          'li',
          {},
          h('span', { class: 'bar-label' }, p.label),
          h('span', { class: 'bar-track' }, bar),
          h('span', { class: 'num' }, formatPercent(p.probability)),
        );
      }),
    ),
  );
}
