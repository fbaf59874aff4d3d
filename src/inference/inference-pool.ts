import type { BackendPreference } from '../compute/backend.js';
import { BadRequestError, ConflictError } from '../errors/domain-error.js';
import { InferenceChildProcess, type ChildExit, type PoolLog } from './inference-child-process.js';
import {
  InferenceFailedError,
  InferencePoolClosedError,
  InferenceWorkerStartError,
  InvalidInstanceImageError,
  ModelLoadError,
} from './inference-errors.js';
import type { BatchTimings, ChildMemory, InferenceKind } from './inference-protocol.js';
import { l2Normalized, toPrediction, type Prediction } from './prediction-format.js';
import { RequestBatcher, type Batch, type Outcome } from './request-batcher.js';

/**
 * Runs /predict and /features off the api's event loop, in `size` child processes (not worker_threads:
 * tfjs-node fails in a second thread). Each child caches models (LRU, bounded by weight bytes); concurrent
 * requests for one model are batched (maxBatchSize images, maxWaitMs). A child that dies fails only the
 * requests it held (InferenceWorkerCrashedError, 503) and is restarted; queued requests wait for it.
 */

export interface InferencePoolOptions {
  /** Child processes. Default 1. */
  size?: number;
  /** TF_BACKEND of the children. Default 'auto'. */
  backend?: BackendPreference;
  /** Most images run in one forward pass. Default 8. */
  maxBatchSize?: number;
  /** Longest an image waits for others to fill its batch. Default 5. */
  maxWaitMs?: number;
  /** Per child: bound of the model cache, in estimated weight bytes. Default 512 MiB. */
  cacheBytes?: number;
  /** Largest accepted input image (width×height). Default decodeImage's (64 MP). */
  limitInputPixels?: number;
  /** Images allowed to wait for a child; beyond it requests fail with InferenceOverloadedError. Default 1024. */
  maxQueuedImages?: number;
  /** Batches a child holds at once (one running, the next decoding). Default 2. */
  pipelineDepth?: number;
  log?: PoolLog;
  onBatch?: (event: BatchEvent) => void;
}

export interface ImagesRequest {
  modelId: string;
  /** The trained-model artifact directory (model.json, weights, metadata.json). */
  artifactDir: string;
  /** Encoded image files (JPEG, PNG, …), decoded in the child exactly as training decoded. */
  images: Uint8Array[];
}

export interface PredictRequest extends ImagesRequest {
  /** Default 5, capped at the number of classes. */
  topK?: number;
}

export interface PredictResult {
  /** One per image, in input order. */
  predictions: Prediction[];
}

export interface FeaturesRequest extends ImagesRequest {
  normalize?: 'l2' | 'none';
}

export interface FeaturesResult {
  dim: number;
  /** One vector per image, in input order. */
  features: number[][];
}

export interface BatchEvent {
  modelId: string;
  kind: InferenceKind;
  /** Images in the batch. */
  size: number;
  /** From dispatch to the child's answer. */
  ms: number;
  /** How long the batch's oldest image waited in the queue. */
  waitedMs: number;
  worker: number;
  ok: boolean;
  /** Child-side split, when it answered. */
  timings?: BatchTimings;
}

export interface WorkerStats {
  pid: number | undefined;
  ready: boolean;
  restarts: number;
  inflightBatches: number;
  loadedModels: string[];
}

export interface InferencePoolStats {
  engine: string;
  backend: string | undefined;
  state: 'new' | 'running' | 'closed';
  workers: WorkerStats[];
  /** Model ids cached in any child. */
  loadedModels: string[];
  /** Images waiting for a batch. */
  queueDepth: number;
  queuedRequests: number;
  batchesRun: number;
  lastBatchSizes: number[];
  restarts: number;
}

interface BatchContext {
  kind: InferenceKind;
  modelId: string;
  artifactDir: string;
}

interface Row {
  values: Float32Array;
  classes: string[];
}

const maxRestartDelayMs = 5000;

export class InferencePool {
  private readonly children: InferenceChildProcess[];
  private readonly batcher: RequestBatcher<BatchContext, Uint8Array, Row>;
  private readonly listeners = new Set<(event: BatchEvent) => void>();
  private readonly restarts: number[];
  private readonly failedStarts: number[];
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private state: InferencePoolStats['state'] = 'new';
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: InferencePoolOptions = {}) {
    const size = options.size ?? 1;
    if (!Number.isInteger(size) || size < 1) throw new RangeError('InferencePool size must be a positive integer');
    this.children = Array.from(
      { length: size },
      (_, index) =>
        new InferenceChildProcess({
          index,
          backend: options.backend ?? 'auto',
          cacheBytes: options.cacheBytes ?? 512 * 1024 ** 2,
          limitInputPixels: options.limitInputPixels,
          log: options.log,
          onUnexpectedExit: (exit) => this.onChildExit(index, exit),
        }),
    );
    this.restarts = new Array<number>(size).fill(0);
    this.failedStarts = new Array<number>(size).fill(0);
    this.batcher = new RequestBatcher({
      maxBatchSize: options.maxBatchSize ?? 8,
      maxWaitMs: options.maxWaitMs ?? 5,
      workers: size,
      maxInflightPerWorker: options.pipelineDepth ?? 2,
      maxQueuedInputs: options.maxQueuedImages ?? 1024,
      run: (worker, batch) => this.runOnChild(worker, batch),
    });
    if (options.onBatch) this.listeners.add(options.onBatch);
    for (let w = 0; w < size; w++) this.batcher.setAvailable(w, false);
  }

  /** Forks the children and waits for their backends. Rejects (and closes the pool) if one cannot start. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      if (this.state === 'closed') throw new InferencePoolClosedError('closed');
      try {
        await Promise.all(this.children.map((child) => child.start()));
      } catch (error) {
        await this.close();
        throw error;
      }
      // close() may have run while the children started.
      if (this.isClosed()) throw new InferencePoolClosedError('closed');
      this.state = 'running';
      this.children.forEach((_, w) => this.batcher.setAvailable(w, true));
      const info = this.children[0]!.info!;
      this.options.log?.info(
        { workers: this.children.map((c) => c.pid), backend: info.backend, engine: info.engine },
        `inference pool started: ${this.children.length} × ${info.engine} on ${info.backend}`,
      );
    })();
    return this.starting;
  }

  async predict(request: PredictRequest): Promise<PredictResult> {
    const topK = request.topK ?? 5;
    if (!Number.isInteger(topK) || topK < 1) throw new BadRequestError(`topK must be a positive integer, got ${topK}`);
    const rows = await this.classifierRows(request);
    return { predictions: rows.map((row) => toPrediction(row.values, row.classes, topK)) };
  }

  /** The raw softmax rows, in class index order (TF Serving's :predict answers output tensors, not labels). */
  async probabilities(request: ImagesRequest): Promise<Float32Array[]> {
    return (await this.classifierRows(request)).map((row) => row.values);
  }

  async features(request: FeaturesRequest): Promise<FeaturesResult> {
    const rows = await this.submit('features', request);
    const normalize = request.normalize ?? 'none';
    return {
      dim: rows[0]?.values.length ?? 0,
      features: rows.map((row) => (normalize === 'l2' ? l2Normalized(row.values) : Array.from(row.values))),
    };
  }

  /** Drops the model from every child's cache (call when it is deleted or replaced). True if one held it. */
  async evict(modelId: string): Promise<boolean> {
    const ready = this.children.filter((child) => child.ready);
    const results = await Promise.allSettled(ready.map((child) => child.evict(modelId)));
    // A child that died meanwhile holds nothing any more.
    return results.some((result) => result.status === 'fulfilled' && result.value);
  }

  /**
   * tf.memory(), wasm heap, RSS and cache state of each running child (`worker` is its index), taken between
   * batches: for /metrics and the soak, which check that they stay flat under load.
   */
  async memory(): Promise<Array<ChildMemory & { worker: number }>> {
    const running = this.children.flatMap((child, worker) => (child.ready ? [{ child, worker }] : []));
    return Promise.all(running.map(async ({ child, worker }) => ({ worker, ...(await child.memory()) })));
  }

  /** Calls `listener` after every batch (for latency and batch-size histograms); returns the unsubscribe. */
  addBatchListener(listener: (event: BatchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): InferencePoolStats {
    const batcher = this.batcher.stats();
    const info = this.children.find((child) => child.info)?.info;
    const workers = this.children.map((child, w) => ({
      pid: child.pid,
      ready: child.ready,
      restarts: this.restarts[w]!,
      inflightBatches: batcher.inflight[w]!,
      loadedModels: child.loadedModels,
    }));
    return {
      engine: info?.engine ?? 'tfjs',
      backend: info?.backend,
      state: this.state,
      workers,
      loadedModels: [...new Set(workers.flatMap((w) => w.loadedModels))],
      queueDepth: batcher.queuedInputs,
      queuedRequests: batcher.queuedRequests,
      batchesRun: batcher.batchesRun,
      lastBatchSizes: batcher.lastBatchSizes,
      restarts: this.restarts.reduce((a, b) => a + b, 0),
    };
  }

  /** Fails queued and running requests with InferencePoolClosedError and ends every child. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closed';
      for (const timer of this.restartTimers) clearTimeout(timer);
      this.restartTimers.clear();
      this.children.forEach((_, w) => this.batcher.setAvailable(w, false));
      this.batcher.failQueued(new InferencePoolClosedError('closed'));
      await Promise.all(this.children.map((child) => child.stop()));
    })();
    return this.closing;
  }

  /** Probability rows; a features-only model (a base model without with-top weights) has no classes: 409. */
  private async classifierRows(request: ImagesRequest): Promise<Row[]> {
    const rows = await this.submit('predict', request);
    if (rows.length > 0 && rows[0]!.classes.length === 0) {
      throw new ConflictError(`model '${request.modelId}' has no classifier; use /features`, {
        modelId: request.modelId,
      });
    }
    return rows;
  }

  private async submit(kind: InferenceKind, request: ImagesRequest): Promise<Row[]> {
    if (this.state !== 'running') throw new InferencePoolClosedError(this.state === 'new' ? 'not started' : 'closed');
    const { modelId, artifactDir, images } = request;
    const key = `${kind}\0${modelId}\0${artifactDir}`;
    const outcomes = await this.batcher.submit(key, { kind, modelId, artifactDir }, images);
    const rows: Row[] = [];
    const invalid: Array<{ index: number; reason: string }> = [];
    outcomes.forEach((outcome, index) => {
      if (outcome.ok) rows.push(outcome.value);
      else invalid.push({ index, reason: outcome.reason });
    });
    if (invalid.length > 0) throw new InvalidInstanceImageError(invalid[0]!.index, invalid[0]!.reason, invalid);
    return rows;
  }

  private async runOnChild(worker: number, batch: Batch<BatchContext, Uint8Array>): Promise<Array<Outcome<Row>>> {
    const { kind, modelId, artifactDir } = batch.context;
    const started = performance.now();
    const event = (ok: boolean, timings?: BatchTimings) =>
      this.emit({
        modelId,
        kind,
        size: batch.inputs.length,
        ms: performance.now() - started,
        waitedMs: batch.waitedMs,
        worker,
        ok,
        timings,
      });
    let reply;
    try {
      reply = await this.children[worker]!.runBatch({ kind, modelId, artifactDir, images: batch.inputs });
    } catch (error) {
      event(false);
      throw error;
    }
    if (!reply.ok) {
      event(false);
      throw reply.failure === 'model-load'
        ? new ModelLoadError(modelId, reply.message)
        : new InferenceFailedError(modelId, reply.message);
    }
    event(true, reply.timings);
    const { values, width, classes } = reply;
    let row = 0;
    return reply.errors.map((reason): Outcome<Row> => {
      if (reason !== null) return { ok: false, reason };
      const start = row++ * width;
      return { ok: true, value: { values: values.subarray(start, start + width), classes } };
    });
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private emit(event: BatchEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.options.log?.warn({ err: error }, 'inference batch listener failed');
      }
    }
  }

  private onChildExit(worker: number, exit: ChildExit): void {
    this.batcher.setAvailable(worker, false);
    if (this.state === 'closed') return;
    this.restarts[worker]!++;
    this.options.log?.warn({ worker, ...exit }, 'inference worker stopped; restarting it');
    this.restart(worker);
  }

  private restart(worker: number): void {
    const failures = this.failedStarts[worker]!;
    const delay = failures === 0 ? 0 : Math.min(maxRestartDelayMs, 100 * 2 ** failures);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.state === 'closed') return;
      this.children[worker]!.start().then(
        () => {
          this.failedStarts[worker] = 0;
          if (this.state === 'closed') void this.children[worker]!.stop();
          else this.batcher.setAvailable(worker, true);
        },
        (error: unknown) => {
          if (this.state === 'closed') return;
          this.failedStarts[worker]!++;
          this.options.log?.error({ worker, err: error }, 'inference worker failed to restart');
          // With no child left to run them, waiting requests would wait for ever.
          if (!this.children.some((child) => child.ready)) {
            this.batcher.failQueued(
              error instanceof InferenceWorkerStartError ? error : new InferenceWorkerStartError(worker, String(error)),
            );
          }
          this.restart(worker);
        },
      );
    }, delay);
    this.restartTimers.add(timer);
  }
}
