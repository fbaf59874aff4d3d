import type { TrainingProgressEvent } from '../src/training/progress-events.js';
import type { HistoryEntry } from '../src/training/training-history.js';
import { emptyProgress, type TrainingJobProgress } from '../src/services/training-job-data.js';

/**
 * Folds the trainer's progress events into the job's progress object and publishes it: at once for
 * stage, phase and epoch events, at most every `batchIntervalMs` for batch events.
 */
export class JobProgressReporter {
  private state: TrainingJobProgress;
  private lastBatchPublish = 0;
  private publishing: Promise<void> = Promise.resolve();

  constructor(
    private readonly totalEpochs: number,
    private readonly publish: (progress: TrainingJobProgress) => Promise<void>,
    previous?: Partial<TrainingJobProgress>,
    private readonly batchIntervalMs = 1000,
  ) {
    // A retry continues the history of the attempt before it (the trainer resumes from its checkpoint).
    this.state = { ...emptyProgress(), ...previous, event: null };
  }

  get progress(): TrainingJobProgress {
    return this.state;
  }

  onEvent(event: TrainingProgressEvent): void {
    const s = this.state;
    switch (event.type) {
      case 'stage':
        s.stage = event.stage;
        s.event = { type: 'stage' };
        break;
      case 'phase':
        s.phase = event.phase;
        s.stage = 'training';
        s.epochs = event.summary.epochs;
        s.epoch = event.summary.startEpoch - 1;
        s.summary = { ...s.summary, [event.phase]: event.summary.parameters };
        s.event = { type: 'phase' };
        break;
      case 'batch':
        s.event = { type: 'batch', batch: event.batch, batches: event.batches, loss: event.loss };
        if (Date.now() - this.lastBatchPublish < this.batchIntervalMs) return;
        break;
      case 'epoch': {
        const { type: _type, epochs, ...entry } = event;
        s.epoch = entry.epoch;
        s.epochs = epochs;
        s.history = upsert(s.history, entry);
        s.event = { type: 'epoch' };
        break;
      }
    }
    s.progress = this.totalEpochs > 0 ? Math.min(1, s.history.length / this.totalEpochs) : 0;
    this.flush();
  }

  /** Publishes the current state; resolves when every publish so far has finished. */
  flush(): Promise<void> {
    this.lastBatchPublish = Date.now();
    const snapshot = structuredClone(this.state);
    this.publishing = this.publishing.then(() => this.publish(snapshot)).catch(() => undefined);
    return this.publishing;
  }
}

/** Replaces an epoch already reported (an attempt that died after reporting it) instead of duplicating it. */
function upsert(history: HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  const rest = history.filter((h) => !(h.phase === entry.phase && h.epoch === entry.epoch));
  const order = (h: HistoryEntry) => (h.phase === 'head' ? 0 : 1) * 1e6 + h.epoch;
  return [...rest, entry].sort((a, b) => order(a) - order(b));
}
