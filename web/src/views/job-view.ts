import type { Static } from '@sinclair/typebox';
import type { PhaseSummariesSchema } from '../../../src/schemas/architectures.js';
import { getJson, messageOf, postEmpty } from '../api.js';
import type { Dataset, Job } from '../api-types.js';
import { emit } from '../app-events.js';
import { formatCount, formatDuration, formatPercent, h, replace } from '../dom.js';
import { followJob } from '../job-events.js';
import { TrainingChart } from './training-chart.js';

type PhaseSummaries = Static<typeof PhaseSummariesSchema>;
type Counts = PhaseSummaries['head'];

const terminal = new Set(['completed', 'failed', 'cancelled']);

interface PlannedConfig {
  head?: { epochs?: number; bnMode?: string };
  finetune?: { epochs?: number; unfreeze?: string } | false;
}

function plannedEpochs(job: Job): { head: number; finetune: number } {
  const config = (job.config ?? {}) as PlannedConfig;
  return { head: config.head?.epochs ?? 0, finetune: config.finetune ? (config.finetune.epochs ?? 0) : 0 };
}

/** Estimated time left: the mean epoch so far times the epochs still planned (early stopping may end sooner). */
function timeLeft(job: Job): number | null {
  const planned = plannedEpochs(job);
  const remaining = planned.head + planned.finetune - job.history.length;
  if (job.history.length === 0 || remaining <= 0) return null;
  const mean = job.history.reduce((sum, e) => sum + e.durationMs, 0) / job.history.length;
  return mean * remaining;
}

/** One job, live: status, phase and epoch, progress and time left, both curves, and parameters per phase. */
export class JobView {
  readonly element: HTMLElement;
  private readonly body = h('div');
  private controller?: AbortController;
  private charts: TrainingChart[] = [];
  private plannedSummary?: PhaseSummaries;
  private summaryRequested = false;
  private announcedModel?: string;

  constructor() {
    this.element = h(
      'section',
      { class: 'card wide', id: 'job', 'aria-labelledby': 'job-title', hidden: true },
      h('h2', { id: 'job-title' }, 'Job'),
      this.body,
    );
  }

  show(id: string): void {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.charts.forEach((chart) => chart.destroy());
    this.plannedSummary = undefined;
    this.summaryRequested = false;
    this.announcedModel = undefined;
    const status = h('p', { 'data-testid': 'job-status', role: 'status' }, 'Status: loading…');
    const detail = h('p', { class: 'muted' });
    const progress = h('progress', { max: 1, value: 0, 'aria-label': 'Progress' });
    const progressText = h('span', { class: 'muted' });
    const actions = h('div', { class: 'actions' });
    const error = h('p', { role: 'alert', class: 'error' });
    const loss = new TrainingChart({
      title: 'Loss',
      testId: 'loss-chart',
      train: (e) => e.loss,
      val: (e) => e.valLoss,
    });
    const accuracy = new TrainingChart({
      title: 'Accuracy',
      testId: 'accuracy-chart',
      train: (e) => e.accuracy,
      val: (e) => e.valAccuracy,
      range: [0, 1],
    });
    this.charts = [loss, accuracy];
    const summary = h('div');
    const history = h('div');
    replace(
      this.body,
      h('p', {}, h('code', {}, id)),
      status,
      detail,
      h('div', { class: 'progress' }, progress, progressText),
      error,
      actions,
      h('div', { class: 'charts' }, loss.element, accuracy.element),
      summary,
      history,
    );
    this.element.hidden = false;

    const render = (job: Job) => {
      const planned = plannedEpochs(job);
      const phaseName = job.phase === 'finetune' ? 'fine-tuning' : job.phase === 'head' ? 'head' : null;
      replace(status, 'Status: ', h('strong', { class: `status status-${job.status}` }, job.status));
      replace(
        detail,
        `${job.architecture}`,
        phaseName ? ` · phase: ${phaseName}, epoch ${job.epoch} of ${job.epochs}` : '',
        job.stage && job.status === 'running' ? ` · ${job.stage}` : '',
        job.attempt > 1 ? ` · attempt ${job.attempt}` : '',
      );
      progress.value = job.status === 'completed' ? 1 : job.progress;
      const left = job.status === 'running' ? timeLeft(job) : null;
      progressText.textContent =
        `${formatPercent(progress.value, 0)}` + (left !== null ? ` · about ${formatDuration(left)} left` : '');
      error.textContent = job.error ?? '';
      loss.update(job.history, planned.head);
      accuracy.update(job.history, planned.head);
      this.renderSummary(summary, job);
      this.renderHistory(history, job);
      replace(
        actions,
        terminal.has(job.status)
          ? null
          : h(
              'button',
              {
                type: 'button',
                class: 'danger',
                onclick: async () => {
                  try {
                    render(await postEmpty<Job>(`/v1/jobs/${encodeURIComponent(job.id)}/cancel`));
                    emit('jobs-changed');
                  } catch (e) {
                    error.textContent = messageOf(e);
                  }
                },
              },
              'Cancel job',
            ),
        job.modelId
          ? h('button', { type: 'button', onclick: () => emit('model-selected', job.modelId!) }, 'Open the model')
          : null,
      );
      if (job.status === 'completed' && job.modelId && this.announcedModel !== job.modelId) {
        this.announcedModel = job.modelId;
        emit('models-changed');
        emit('model-selected', job.modelId);
      }
    };

    void this.follow(id, render, error, controller.signal);
  }

  /** Follows the event stream; reconnects after a dropped connection until the job has ended. */
  private async follow(id: string, render: (job: Job) => void, error: HTMLElement, signal: AbortSignal) {
    let lastStatus = '';
    const onJob = (job: Job) => {
      render(job);
      if (job.status !== lastStatus) emit('jobs-changed');
      lastStatus = job.status;
    };
    while (!signal.aborted) {
      try {
        await followJob(id, onJob, signal);
      } catch (e) {
        if (signal.aborted) return;
        error.textContent = `Live updates interrupted: ${messageOf(e)}`;
      }
      if (signal.aborted) return;
      const job = await getJson<Job>(`/v1/jobs/${encodeURIComponent(id)}`).catch(() => undefined);
      if (job) onJob(job);
      if (job && terminal.has(job.status)) return;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  private renderSummary(container: HTMLElement, job: Job) {
    const head = job.summary.head ?? this.plannedSummary?.head;
    const finetune = job.summary.finetune ?? this.plannedSummary?.finetune;
    if ((!job.summary.head || !job.summary.finetune) && !this.summaryRequested) {
      this.summaryRequested = true;
      void this.loadPlannedSummary(job).then(() => this.plannedSummary && this.renderSummary(container, job));
    }
    const planned = plannedEpochs(job);
    const cell = (counts: Counts | undefined, key: keyof Counts) =>
      h('td', { class: 'num' }, counts ? formatCount(counts[key]) : '—');
    replace(
      container,
      h(
        'div',
        { class: 'scroll-x' },
        h(
          'table',
          {},
          h('caption', {}, 'Parameters per phase'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, 'Phase'),
              h('th', { scope: 'col', class: 'num' }, 'Total'),
              h('th', { scope: 'col', class: 'num' }, 'Trainable'),
              h('th', { scope: 'col', class: 'num' }, 'Non-trainable'),
            ),
          ),
          h(
            'tbody',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, `Head (${planned.head} epochs)`),
              cell(head, 'total'),
              cell(head, 'trainable'),
              cell(head, 'nonTrainable'),
            ),
            planned.finetune > 0
              ? h(
                  'tr',
                  {},
                  h('th', { scope: 'row' }, `Fine-tune (${planned.finetune} epochs)`),
                  cell(finetune, 'total'),
                  cell(finetune, 'trainable'),
                  cell(finetune, 'nonTrainable'),
                )
              : null,
          ),
        ),
      ),
    );
  }

  /** Counts for phases that have not started yet, from the architecture endpoint. */
  private async loadPlannedSummary(job: Job) {
    try {
      const dataset = await getJson<Dataset>(`/v1/datasets/${encodeURIComponent(job.datasetId)}`);
      const config = (job.config ?? {}) as PlannedConfig;
      const query = new URLSearchParams({ numClasses: String(dataset.classes.length) });
      if (config.head?.bnMode) query.set('headBnMode', config.head.bnMode);
      if (config.finetune && config.finetune.unfreeze) query.set('unfreeze', config.finetune.unfreeze);
      this.plannedSummary = await getJson<PhaseSummaries>(
        `/v1/architectures/${encodeURIComponent(job.architecture)}?${query}`,
      );
    } catch {
      // The dataset may be deleted; the job's own counts still show.
    }
  }

  private renderHistory(container: HTMLElement, job: Job) {
    const value = (x: number | null) => (x === null ? '—' : x.toFixed(4));
    const open = container.querySelector('details')?.open ?? false;
    replace(
      container,
      job.history.length === 0
        ? null
        : h(
            'details',
            { open },
            h('summary', {}, `Epochs (${job.history.length})`),
            h(
              'div',
              { class: 'scroll-x' },
              h(
                'table',
                {},
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    ['Phase', 'Epoch', 'Loss', 'Accuracy', 'Val loss', 'Val accuracy', 'Time'].map((t) =>
                      h('th', { scope: 'col' }, t),
                    ),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  job.history.map((e) =>
                    h(
                      'tr',
                      {},
                      h('td', {}, e.phase === 'head' ? 'head' : 'fine-tune'),
                      h('td', { class: 'num' }, e.epoch),
                      h('td', { class: 'num' }, value(e.loss)),
                      h('td', { class: 'num' }, value(e.accuracy)),
                      h('td', { class: 'num' }, value(e.valLoss)),
                      h('td', { class: 'num' }, value(e.valAccuracy)),
                      h('td', { class: 'num' }, formatDuration(e.durationMs)),
                    ),
                  ),
                ),
              ),
            ),
          ),
    );
  }
}
