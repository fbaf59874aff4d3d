import { getApiKey } from '../api-key.js';
import { getJson, messageOf, request } from '../api.js';
import type { Model } from '../api-types.js';
import { formatPercent, h, replace } from '../dom.js';
import { predictView } from './predict-view.js';

/** A finished model: its evaluation, its artifacts, curl examples with its real id, and a place to try it. */
export class ModelView {
  readonly element: HTMLElement;
  private readonly body = h('div');

  constructor() {
    this.element = h(
      'section',
      { class: 'card wide', id: 'model', 'aria-labelledby': 'model-title', hidden: true },
      h('h2', { id: 'model-title' }, 'Model'),
      this.body,
    );
  }

  async show(id: string): Promise<void> {
    this.element.hidden = false;
    replace(this.body, h('p', { role: 'status' }, 'Loading…'));
    try {
      const model = await getJson<Model>(`/v1/models/${encodeURIComponent(id)}`);
      this.render(model);
    } catch (error) {
      replace(this.body, h('p', { role: 'alert', class: 'error' }, messageOf(error)));
    }
  }

  hideIf(id: string): void {
    if (this.body.querySelector(`[data-model-id="${CSS.escape(id)}"]`)) this.element.hidden = true;
  }

  private render(model: Model) {
    const { metrics } = model;
    replace(
      this.body,
      h(
        'p',
        { 'data-model-id': model.id },
        h('code', {}, model.id),
        ` · ${model.architecture}, ${model.imageSize} px, ${model.classes.length} classes, ${model.featureDim}-d features`,
      ),
      h(
        'p',
        {},
        `Validation accuracy ${metrics.valAccuracy === null ? '—' : formatPercent(metrics.valAccuracy)}`,
        metrics.top5Accuracy != null ? `, top-5 ${formatPercent(metrics.top5Accuracy)}` : '',
        `, loss ${metrics.valLoss === null ? '—' : metrics.valLoss.toFixed(4)}`,
      ),
      h('div', { class: 'columns' }, predictView(model), artifactLinks(model)),
      metrics.confusionMatrix.length > 0 ? confusionMatrix(model) : h('p', {}, 'No validation set: no evaluation.'),
      perClassTable(model),
      curlExamples(model),
    );
  }
}

/** Links to the artifacts. With an API key, a click fetches with the header and saves the blob (no key in URLs). */
function artifactLinks(model: Model): HTMLElement {
  const link = (format: 'tfjs' | 'onnx', text: string) => {
    const href = `/v1/models/${encodeURIComponent(model.id)}/artifact?format=${format}`;
    const filename = format === 'onnx' ? `${model.id}.onnx` : `${model.id}.tar.gz`;
    return h(
      'a',
      {
        href,
        download: filename,
        onclick: async (event: Event) => {
          if (!getApiKey()) return;
          event.preventDefault();
          const blob = await (await request(href)).blob();
          const url = URL.createObjectURL(blob);
          const a = h('a', { href: url, download: filename });
          a.click();
          setTimeout(() => URL.revokeObjectURL(url), 60_000);
        },
      },
      text,
    );
  };
  return h(
    'div',
    {},
    h('h3', {}, 'Download'),
    h(
      'ul',
      {},
      h('li', {}, link('tfjs', 'tfjs layers model with metadata (.tar.gz)')),
      model.formats.includes('onnx') ? h('li', {}, link('onnx', 'ONNX (opset 13)')) : null,
    ),
  );
}

/** Rows: true class, columns: predicted class. Cells are shaded by their share of the row (recall). */
function confusionMatrix(model: Model): HTMLElement {
  const matrix = model.metrics.confusionMatrix;
  return h(
    'div',
    { class: 'scroll-x' },
    h(
      'table',
      { class: 'heatmap' },
      h('caption', {}, 'Confusion matrix (rows: true class, columns: predicted class)'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('td', {}),
          model.classes.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        matrix.map((row, i) => {
          const total = row.reduce((a, b) => a + b, 0) || 1;
          return h(
            'tr',
            {},
            h('th', { scope: 'row' }, model.classes[i] ?? String(i)),
            row.map((count, j) => {
              const share = count / total;
              const cell = h('td', { class: 'num', title: `${formatPercent(share)} of the row` }, count);
              const { background, text } = heatColour(share);
              cell.style.backgroundColor = background;
              cell.style.color = text;
              if (i === j) cell.classList.add('diagonal');
              return cell;
            }),
          );
        }),
      ),
    ),
  );
}

/**
 * Light to dark blue by `share`, with black or white text, whichever contrasts more with the cell (at least
 * 4.58:1 for any background, the WCAG AA 4.5:1 for text).
 */
export function heatColour(share: number): { background: string; text: string } {
  const light = [239, 246, 255];
  const dark = [30, 58, 138];
  const rgb = light.map((l, k) => Math.round(l + (dark[k]! - l) * Math.min(1, Math.max(0, share))));
  const linear = rgb.map((c) => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * linear[0]! + 0.7152 * linear[1]! + 0.0722 * linear[2]!;
  const onWhite = 1.05 / (luminance + 0.05);
  const onBlack = (luminance + 0.05) / 0.05;
  return { background: `rgb(${rgb.join(' ')})`, text: onWhite > onBlack ? '#ffffff' : '#000000' };
}

function perClassTable(model: Model): HTMLElement {
  const columns = ['Class', 'Precision', 'Recall', 'F1', 'Support'];
  return h(
    'div',
    { class: 'scroll-x' },
    h(
      'table',
      {},
      h('caption', {}, 'Per class'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((c, i) => h('th', { scope: 'col', class: i > 0 ? 'num' : null }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        model.metrics.perClass.map((c) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, c.label),
            h('td', { class: 'num' }, c.precision.toFixed(3)),
            h('td', { class: 'num' }, c.recall.toFixed(3)),
            h('td', { class: 'num' }, c.f1.toFixed(3)),
            h('td', { class: 'num' }, c.support),
          ),
        ),
      ),
    ),
  );
}

function curlExamples(model: Model): HTMLElement {
  const base = `${location.origin}/v1/models/${model.id}`;
  const auth = getApiKey() ? ` -H "Authorization: Bearer $EFFNET_API_KEY"` : '';
  const examples = [
    ['Class probabilities (top 5)', `curl -s${auth} -F file=@image.jpg '${base}/predict?topK=5'`],
    ['Embeddings (L2-normalised)', `curl -s${auth} -F file=@image.jpg '${base}/features?normalize=l2'`],
  ];
  return h(
    'div',
    {},
    h('h3', {}, 'Call it with curl'),
    examples.map(([title, command]) => {
      const copy = h('button', { type: 'button', class: 'small' }, 'Copy');
      copy.addEventListener('click', async () => {
        try {
          await navigator.clipboard.writeText(command!);
          copy.textContent = 'Copied';
        } catch {
          copy.textContent = 'Select and copy';
        }
        setTimeout(() => (copy.textContent = 'Copy'), 2000);
      });
      return h(
        'div',
        { class: 'example' },
        h('div', { class: 'example-head' }, h('span', {}, title!), copy),
        h('pre', {}, h('code', {}, command!)),
      );
    }),
  );
}
