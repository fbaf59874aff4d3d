import { InferenceOverloadedError } from './inference-errors.js';

/**
 * Groups concurrent requests into batches, like TF Serving's batching scheduler: inputs sharing a key (model
 * and kind) queue together; a batch leaves when it holds `maxBatchSize` inputs or its oldest input has waited
 * `maxWaitMs`. It goes to the least busy worker that has room (`maxInflightPerWorker` batches each: one
 * running, one being prepared). While every worker is busy the queue keeps filling, so load makes batches
 * bigger rather than queues longer. A request with more inputs than `maxBatchSize` is split over several
 * batches; its outcomes come back in input order. Pure scheduling: what a batch runs on is `run`'s business.
 */

export type Outcome<O> = { ok: true; value: O } | { ok: false; reason: string };

export interface Batch<C, I> {
  key: string;
  /** The context of the batch's first request (all requests under one key share it). */
  context: C;
  inputs: I[];
  /** How long the oldest input waited in the queue before this batch left. */
  waitedMs: number;
}

export interface RequestBatcherOptions<C, I, O> {
  maxBatchSize: number;
  maxWaitMs: number;
  workers: number;
  /** Batches a worker may hold at once. Default 2. */
  maxInflightPerWorker?: number;
  /** Inputs allowed to wait; beyond it submit() throws InferenceOverloadedError. Default unlimited. */
  maxQueuedInputs?: number;
  /** Runs a batch on a worker; resolves one outcome per input, in order. A rejection fails every request in it. */
  run(worker: number, batch: Batch<C, I>): Promise<Array<Outcome<O>>>;
}

interface PendingRequest<C, I, O> {
  key: string;
  context: C;
  inputs: I[];
  enqueuedAt: number;
  /** Inputs handed to batches so far. */
  dispatched: number;
  /** Inputs not answered yet. */
  unanswered: number;
  outcomes: Array<Outcome<O>>;
  settled: boolean;
  resolve(outcomes: Array<Outcome<O>>): void;
  reject(error: unknown): void;
}

interface Part<C, I, O> {
  request: PendingRequest<C, I, O>;
  start: number;
  count: number;
}

export interface BatcherStats {
  queuedInputs: number;
  queuedRequests: number;
  inflight: number[];
  batchesRun: number;
  /** Sizes of the most recent batches, oldest first. */
  lastBatchSizes: number[];
}

const recentBatches = 32;

export class RequestBatcher<C, I, O> {
  private readonly queues = new Map<string, Array<PendingRequest<C, I, O>>>();
  private readonly queuedPerKey = new Map<string, number>();
  private readonly inflight: number[];
  private readonly available: boolean[];
  private readonly lastWorkerOf = new Map<string, number>();
  private readonly maxInflight: number;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private queuedInputs = 0;
  private batchesRun = 0;
  private readonly lastSizes: number[] = [];

  constructor(private readonly options: RequestBatcherOptions<C, I, O>) {
    if (!(options.maxBatchSize >= 1)) throw new RangeError('maxBatchSize must be at least 1');
    if (!(options.maxWaitMs >= 0)) throw new RangeError('maxWaitMs must be 0 or more');
    this.maxInflight = options.maxInflightPerWorker ?? 2;
    this.inflight = new Array<number>(options.workers).fill(0);
    this.available = new Array<boolean>(options.workers).fill(true);
  }

  /** Resolves one outcome per input, in order. */
  submit(key: string, context: C, inputs: I[]): Promise<Array<Outcome<O>>> {
    if (inputs.length === 0) return Promise.resolve([]);
    const limit = this.options.maxQueuedInputs;
    if (limit !== undefined && this.queuedInputs + inputs.length > limit) {
      return Promise.reject(new InferenceOverloadedError(this.queuedInputs, limit));
    }
    return new Promise((resolve, reject) => {
      const request: PendingRequest<C, I, O> = {
        key,
        context,
        inputs,
        enqueuedAt: performance.now(),
        dispatched: 0,
        unanswered: inputs.length,
        outcomes: new Array<Outcome<O>>(inputs.length),
        settled: false,
        resolve,
        reject,
      };
      const queue = this.queues.get(key) ?? [];
      queue.push(request);
      this.queues.set(key, queue);
      this.addQueued(key, inputs.length);
      this.pump();
    });
  }

  /** A worker that is restarting takes no batches; marking it available again dispatches what waits. */
  setAvailable(worker: number, available: boolean): void {
    this.available[worker] = available;
    if (available) this.pump();
  }

  /** Rejects every request still waiting for a batch (in-flight batches finish or fail on their own). */
  failQueued(error: unknown): void {
    for (const queue of this.queues.values()) {
      for (const request of queue) this.fail(request, error);
    }
    this.queues.clear();
    this.queuedPerKey.clear();
    this.queuedInputs = 0;
    this.clearTimer();
  }

  stats(): BatcherStats {
    return {
      queuedInputs: this.queuedInputs,
      queuedRequests: [...this.queues.values()].reduce((sum, queue) => sum + queue.length, 0),
      inflight: [...this.inflight],
      batchesRun: this.batchesRun,
      lastBatchSizes: [...this.lastSizes],
    };
  }

  private addQueued(key: string, count: number): void {
    this.queuedInputs += count;
    this.queuedPerKey.set(key, (this.queuedPerKey.get(key) ?? 0) + count);
  }

  /** Dispatches every batch that is ready while some worker has room; otherwise arms the timer. */
  private pump(): void {
    for (;;) {
      const worker = this.freeWorker(undefined);
      if (worker === undefined) return;
      const now = performance.now();
      const key = this.readyKey(now);
      if (key === undefined) {
        this.armTimer(now);
        return;
      }
      this.dispatch(this.freeWorker(key)!, key, now);
    }
  }

  /** Least busy available worker with room; among equals, the one that last ran `key` (its model is loaded). */
  private freeWorker(key: string | undefined): number | undefined {
    let best: number | undefined;
    const preferred = key === undefined ? undefined : this.lastWorkerOf.get(key);
    for (let w = 0; w < this.inflight.length; w++) {
      if (!this.available[w] || this.inflight[w]! >= this.maxInflight) continue;
      if (best === undefined || this.inflight[w]! < this.inflight[best]!) best = w;
      else if (this.inflight[w] === this.inflight[best] && w === preferred) best = w;
    }
    return best;
  }

  /** The ready key whose oldest input has waited longest. */
  private readyKey(now: number): string | undefined {
    let chosen: string | undefined;
    let oldest = Infinity;
    for (const [key, queue] of this.queues) {
      const head = queue[0]!;
      const full = this.queuedPerKey.get(key)! >= this.options.maxBatchSize;
      const due = now - head.enqueuedAt >= this.options.maxWaitMs;
      if ((full || due) && head.enqueuedAt < oldest) {
        chosen = key;
        oldest = head.enqueuedAt;
      }
    }
    return chosen;
  }

  private armTimer(now: number): void {
    let due = Infinity;
    for (const queue of this.queues.values()) due = Math.min(due, queue[0]!.enqueuedAt + this.options.maxWaitMs);
    if (due === Infinity || due >= this.timerDue) return;
    this.clearTimer();
    this.timerDue = due;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerDue = Infinity;
        this.pump();
      },
      Math.max(0, due - now),
    );
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
  }

  /** Takes up to maxBatchSize inputs of `key`, oldest first, splitting the last request if needed. */
  private take(key: string): Array<Part<C, I, O>> {
    const queue = this.queues.get(key)!;
    const parts: Array<Part<C, I, O>> = [];
    let room = this.options.maxBatchSize;
    while (room > 0 && queue.length > 0) {
      const request = queue[0]!;
      const count = Math.min(room, request.inputs.length - request.dispatched);
      parts.push({ request, start: request.dispatched, count });
      request.dispatched += count;
      room -= count;
      if (request.dispatched === request.inputs.length) queue.shift();
    }
    const taken = this.options.maxBatchSize - room;
    this.queuedInputs -= taken;
    if (queue.length === 0) {
      this.queues.delete(key);
      this.queuedPerKey.delete(key);
    } else {
      this.queuedPerKey.set(key, this.queuedPerKey.get(key)! - taken);
    }
    return parts;
  }

  private dispatch(worker: number, key: string, now: number): void {
    const parts = this.take(key);
    const waitedMs = now - parts[0]!.request.enqueuedAt;
    const inputs = parts.flatMap((p) => p.request.inputs.slice(p.start, p.start + p.count));
    const context = parts[0]!.request.context;
    this.inflight[worker]!++;
    this.lastWorkerOf.set(key, worker);
    this.batchesRun++;
    this.lastSizes.push(inputs.length);
    if (this.lastSizes.length > recentBatches) this.lastSizes.shift();

    void this.runBatch(worker, key, context, inputs, parts, waitedMs);
  }

  private async runBatch(
    worker: number,
    key: string,
    context: C,
    inputs: I[],
    parts: Array<Part<C, I, O>>,
    waitedMs: number,
  ): Promise<void> {
    try {
      const outcomes = await this.options.run(worker, { key, context, inputs, waitedMs });
      if (outcomes.length !== inputs.length) {
        throw new Error(`batch of ${inputs.length} inputs answered with ${outcomes.length} outcomes`);
      }
      let offset = 0;
      for (const part of parts) {
        this.answer(part, outcomes.slice(offset, offset + part.count));
        offset += part.count;
      }
    } catch (error) {
      for (const part of parts) this.fail(part.request, error);
    } finally {
      this.inflight[worker]!--;
      this.pump();
    }
  }

  private answer(part: Part<C, I, O>, outcomes: Array<Outcome<O>>): void {
    const { request } = part;
    if (request.settled) return;
    outcomes.forEach((outcome, i) => (request.outcomes[part.start + i] = outcome));
    request.unanswered -= part.count;
    if (request.unanswered === 0) {
      request.settled = true;
      request.resolve(request.outcomes);
    }
  }

  /** Rejects a request once; inputs of it still queued are dropped (nobody waits for them any more). */
  private fail(request: PendingRequest<C, I, O>, error: unknown): void {
    if (request.settled) return;
    request.settled = true;
    const queue = this.queues.get(request.key);
    const index = queue?.indexOf(request) ?? -1;
    if (queue && index >= 0) {
      const left = request.inputs.length - request.dispatched;
      queue.splice(index, 1);
      this.queuedInputs -= left;
      if (queue.length === 0) {
        this.queues.delete(request.key);
        this.queuedPerKey.delete(request.key);
      } else {
        this.queuedPerKey.set(request.key, this.queuedPerKey.get(request.key)! - left);
      }
    }
    request.reject(error);
  }
}
