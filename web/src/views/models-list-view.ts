import { getJson } from '../api.js';
import type { Model } from '../api-types.js';
import { emit } from '../app-events.js';
import { formatPercent, h } from '../dom.js';
import { ListCard } from './list-card.js';

/** Trained models, newest first, each opening its evaluation, with a delete button. */
export function modelsListView(onDeleted: (id: string) => void): ListCard<Model> {
  const card: ListCard<Model> = new ListCard<Model>(
    'Models',
    'models',
    async () => (await getJson<{ models: Model[] }>('/v1/models')).models,
    (model) => [
      h(
        'button',
        { type: 'button', class: 'link', onclick: () => emit('model-selected', model.id) },
        h('code', {}, model.id),
      ),
      h(
        'span',
        { class: 'muted' },
        ` ${model.architecture}, ${model.classes.length} classes`,
        model.metrics.valAccuracy === null ? '' : `, ${formatPercent(model.metrics.valAccuracy)} val. accuracy`,
      ),
      card.deleteButton(`model ${model.id}`, `/v1/models/${encodeURIComponent(model.id)}`, () => onDeleted(model.id)),
    ],
    'No models yet: a completed job registers one.',
  );
  return card;
}
