import { getJson } from '../api.js';
import type { Dataset } from '../api-types.js';
import { emit } from '../app-events.js';
import { h } from '../dom.js';
import { ListCard } from './list-card.js';

/** Uploaded datasets with a delete button (the server refuses while a job uses one). */
export function datasetsListView(): ListCard<Dataset> {
  const card: ListCard<Dataset> = new ListCard<Dataset>(
    'Datasets',
    'datasets',
    async () => (await getJson<{ datasets: Dataset[] }>('/v1/datasets')).datasets,
    (dataset) => [
      h('span', {}, h('strong', {}, dataset.name), ' ', h('code', {}, dataset.id)),
      h('span', { class: 'muted' }, ` ${dataset.classes.length} classes, ${dataset.images} images`),
      card.deleteButton(`dataset ${dataset.name}`, `/v1/datasets/${encodeURIComponent(dataset.id)}`, () =>
        emit('datasets-changed'),
      ),
    ],
    'No datasets yet: upload one.',
  );
  return card;
}
