import { apiKeysRequired, clearApiKey, getApiKey } from './api-key.js';
import { handleUnauthorized } from './api.js';
import { on } from './app-events.js';
import { h } from './dom.js';
import './styles.css';
import { datasetUploadView } from './views/dataset-upload-view.js';
import { datasetsListView } from './views/datasets-list-view.js';
import { jobFormView } from './views/job-form-view.js';
import { JobView } from './views/job-view.js';
import { jobsListView } from './views/jobs-list-view.js';
import { ModelView } from './views/model-view.js';
import { modelsListView } from './views/models-list-view.js';
import { promptForKey } from './views/key-prompt-view.js';

/** The dashboard: one page of cards (upload, train, watch, evaluate, try), wired through app events. */
async function start() {
  const root = document.getElementById('app')!;
  const main = h('main', { id: 'main' });
  const keyButton = h(
    'button',
    {
      type: 'button',
      class: 'small',
      hidden: !getApiKey(),
      onclick: () => {
        clearApiKey();
        location.reload();
      },
    },
    'Forget API key',
  );
  root.append(
    h('a', { href: '#main', class: 'skip-link' }, 'Skip to content'),
    h(
      'header',
      {},
      h('h1', {}, 'effnet-tl'),
      h('p', { class: 'muted' }, 'Transfer learning with EfficientNet: upload, train, evaluate, predict.'),
      h(
        'nav',
        { 'aria-label': 'Sections' },
        h('a', { href: '#upload-title' }, 'Upload'),
        h('a', { href: '#train-title' }, 'Train'),
        h('a', { href: '#jobs-title' }, 'Jobs'),
        h('a', { href: '#models-title' }, 'Models'),
        h('a', { href: '/docs' }, 'API docs'),
        keyButton,
      ),
    ),
    main,
  );

  handleUnauthorized((detail) => {
    clearApiKey();
    void promptForKey(main, `The server refused the key: ${detail}`).then(() => location.reload());
  });
  if (apiKeysRequired() && !getApiKey()) await promptForKey(main);
  keyButton.hidden = !getApiKey();

  const jobView = new JobView();
  const modelView = new ModelView();
  const jobs = jobsListView();
  const datasets = datasetsListView();
  const models = modelsListView((id) => modelView.hideIf(id));
  main.append(
    datasetUploadView(),
    jobFormView(),
    jobView.element,
    modelView.element,
    jobs.element,
    datasets.element,
    models.element,
  );

  on('jobs-changed', () => void jobs.refresh());
  on('datasets-changed', () => void datasets.refresh());
  on('models-changed', () => void models.refresh());
  on('job-selected', (id) => {
    jobView.show(id);
    jobView.element.scrollIntoView({ block: 'start' });
  });
  on('model-selected', (id) => void modelView.show(id));
  await Promise.all([jobs.refresh(), datasets.refresh(), models.refresh()]);
  // Lists of other clients' work: refreshed while the tab is visible.
  setInterval(() => {
    if (document.visibilityState === 'visible') void jobs.refresh();
  }, 5000);
}

void start();
