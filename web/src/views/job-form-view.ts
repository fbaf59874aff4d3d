import type { Static } from '@sinclair/typebox';
import type { ArchitectureListSchema } from '../../../src/schemas/architectures.js';
import type { CreateJobBody } from '../../../src/schemas/jobs.js';
import { getJson, messageOf, postJson } from '../api.js';
import type { Dataset } from '../api-types.js';
import { emit, on } from '../app-events.js';
import { h, replace, uid, type Attributes } from '../dom.js';

type Architectures = Static<typeof ArchitectureListSchema>['architectures'];

/** A labelled control: the label's `for` is the control's id, so clicking and screen readers both work. */
function field<T extends HTMLInputElement | HTMLSelectElement>(label: string, control: T, hint?: string): HTMLElement {
  control.id ||= uid('field');
  const hintId = hint ? `${control.id}-hint` : undefined;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint ? h('span', { id: hintId, class: 'hint' }, hint) : null,
  );
}

const numberInput = (attributes: Attributes) => h('input', { type: 'number', inputmode: 'decimal', ...attributes });

function select(options: Array<[string, string]>, attributes: Attributes = {}): HTMLSelectElement {
  return h('select', attributes, ...options.map(([value, text]) => h('option', { value }, text)));
}

/** Random hex; crypto.randomUUID exists only in secure contexts, getRandomValues everywhere. */
function newKey(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Start a two-phase job with the common options; the rest sit behind "Advanced options". */
export function jobFormView(): HTMLElement {
  const dataset = select([], { required: true });
  const architecture = select([['efficientnet-b0', 'efficientnet-b0']]);
  const weights = select([
    ['imagenet', 'ImageNet (needs the Keras weight file)'],
    ['none', 'None (random initialisation)'],
  ]);
  const imageSize = numberInput({ min: 32, max: 600, step: 1, placeholder: '224', 'data-testid': 'image-size' });
  const headEpochs = numberInput({
    min: 0,
    max: 1000,
    step: 1,
    value: 3,
    required: true,
    'data-testid': 'head-epochs',
  });
  const headRate = numberInput({ min: 0, max: 1, step: 'any', placeholder: '1e-3' });
  const finetuneEpochs = numberInput({
    min: 0,
    max: 1000,
    step: 1,
    value: 5,
    required: true,
    'data-testid': 'finetune-epochs',
  });
  const finetuneRate = numberInput({ min: 0, max: 1, step: 'any', placeholder: '1e-5' });
  const bnMode = select([
    ['', 'Default for the weights'],
    ['inference', 'Inference (keep moving statistics)'],
    ['train', 'Train (batch statistics)'],
  ]);
  const augmentation = h('input', { type: 'checkbox', checked: true, id: uid('augmentation') });
  // Advanced
  const headBatch = h('input', { type: 'text', value: 'auto', pattern: 'auto|[1-9][0-9]*', inputmode: 'numeric' });
  const finetuneBatch = h('input', { type: 'text', value: 'auto', pattern: 'auto|[1-9][0-9]*', inputmode: 'numeric' });
  const validationSplit = numberInput({ min: 0, max: 0.9, step: 'any', placeholder: '0.2' });
  const seed = numberInput({ min: 0, step: 1, placeholder: '42' });
  const unfreeze = h('input', { type: 'text', placeholder: 'all', pattern: 'all|block[1-7][a-z]' });
  const patience = numberInput({ min: 0, max: 1000, step: 1, placeholder: '3' });
  const earlyStopping = h('input', { type: 'checkbox', checked: true, id: uid('early-stopping') });
  const error = h('p', { role: 'alert', class: 'error' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'start-job' }, 'Start job');

  // One key per intended job: a double submit (or a retry after a lost answer) returns the same job.
  let idempotencyKey = newKey();
  let architectures: Architectures = [];
  const updatePlaceholders = () => {
    const arch = architectures.find((a) => a.name === architecture.value);
    if (arch) imageSize.placeholder = String(arch.defaultImageSize);
    finetuneRate.placeholder = weights.value === 'none' ? '3e-3' : '1e-5';
  };
  architecture.addEventListener('change', updatePlaceholders);
  weights.addEventListener('change', updatePlaceholders);

  async function loadArchitectures() {
    try {
      architectures = (await getJson<{ architectures: Architectures }>('/v1/architectures')).architectures;
      const current = architecture.value;
      replace(
        architecture,
        architectures.map((a) => h('option', { value: a.name }, `${a.name} (${a.defaultImageSize} px)`)),
      );
      architecture.value = current;
      updatePlaceholders();
    } catch (e) {
      error.textContent = messageOf(e);
    }
  }

  async function loadDatasets(select?: string) {
    try {
      const { datasets } = await getJson<{ datasets: Dataset[] }>('/v1/datasets');
      const current = select ?? dataset.value;
      replace(
        dataset,
        datasets.length === 0 ? h('option', { value: '' }, 'Upload a dataset first') : null,
        datasets.map((d) =>
          h('option', { value: d.id }, `${d.name} (${d.classes.length} classes, ${d.images} images)`),
        ),
      );
      if (datasets.some((d) => d.id === current)) dataset.value = current;
    } catch (e) {
      error.textContent = messageOf(e);
    }
  }

  const optionalNumber = (input: HTMLInputElement) => (input.value.trim() === '' ? undefined : Number(input.value));
  const batchSize = (input: HTMLInputElement) =>
    input.value.trim() === '' || input.value.trim() === 'auto' ? undefined : Number(input.value);

  function body(): CreateJobBody {
    const bn = bnMode.value === '' ? undefined : (bnMode.value as 'inference' | 'train');
    const finetuneCount = Number(finetuneEpochs.value);
    const job: CreateJobBody = {
      datasetId: dataset.value,
      architecture: architecture.value as CreateJobBody['architecture'],
      weights: weights.value as 'imagenet' | 'none',
      imageSize: optionalNumber(imageSize),
      validationSplit: optionalNumber(validationSplit),
      seed: optionalNumber(seed),
      augmentation: augmentation.checked ? undefined : false,
      head: {
        epochs: Number(headEpochs.value),
        learningRate: optionalNumber(headRate),
        batchSize: batchSize(headBatch),
        bnMode: bn,
      },
      finetune:
        finetuneCount > 0
          ? {
              epochs: finetuneCount,
              learningRate: optionalNumber(finetuneRate),
              batchSize: batchSize(finetuneBatch),
              bnMode: bn,
              unfreeze: unfreeze.value.trim() || undefined,
              earlyStopping: earlyStopping.checked
                ? patience.value.trim() === ''
                  ? undefined
                  : { patience: Number(patience.value) }
                : false,
            }
          : false,
    };
    return JSON.parse(JSON.stringify(job)) as CreateJobBody; // drops the undefined fields
  }

  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'train-title', novalidate: false },
    h('h2', { id: 'train-title' }, 'Start a job'),
    h(
      'div',
      { class: 'grid' },
      field('Dataset', dataset),
      field('Architecture', architecture),
      field('Weights', weights),
      field('Image size (px)', imageSize, 'Empty: the variant’s default'),
      field('Batch normalization', bnMode),
      h('div', { class: 'field checkbox' }, augmentation, h('label', { for: augmentation.id }, 'Augmentation')),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Phase 1: head (base frozen)'),
      h('div', { class: 'grid' }, field('Head epochs', headEpochs), field('Head learning rate', headRate)),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Phase 2: fine-tuning (base unfrozen)'),
      h(
        'div',
        { class: 'grid' },
        field('Fine-tune epochs', finetuneEpochs, '0 trains the head only'),
        field('Fine-tune learning rate', finetuneRate),
      ),
    ),
    h(
      'details',
      {},
      h('summary', {}, 'Advanced options'),
      h(
        'div',
        { class: 'grid' },
        field('Head batch size', headBatch, '“auto” or a number'),
        field('Fine-tune batch size', finetuneBatch, '“auto” or a number'),
        field('Validation split', validationSplit, 'Used when the dataset has no val/ folder'),
        field('Seed', seed),
        field('Unfreeze from', unfreeze, '“all” or a block such as block6a'),
        field('Early-stopping patience', patience),
        h(
          'div',
          { class: 'field checkbox' },
          earlyStopping,
          h('label', { for: earlyStopping.id }, 'Early stopping on validation loss'),
        ),
      ),
    ),
    error,
    h('div', { class: 'actions' }, submit),
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    if (!dataset.value) {
      error.textContent = 'Upload a dataset first.';
      return;
    }
    submit.disabled = true;
    try {
      const job = await postJson<{ id: string }>('/v1/jobs', body(), { 'idempotency-key': idempotencyKey });
      idempotencyKey = newKey();
      emit('jobs-changed');
      emit('job-selected', job.id);
    } catch (e) {
      error.textContent = `The job was not started: ${messageOf(e)}`;
    } finally {
      submit.disabled = false;
    }
  });

  on('datasets-changed', () => void loadDatasets());
  on('dataset-selected', (id) => void loadDatasets(id));
  void loadArchitectures();
  void loadDatasets();
  return form;
}
