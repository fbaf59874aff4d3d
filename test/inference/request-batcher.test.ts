import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { InferenceOverloadedError } from '../../src/inference/inference-errors.js';
import { RequestBatcher, type Batch, type Outcome } from '../../src/inference/request-batcher.js';

interface Call {
  worker: number;
  batch: Batch<string, number>;
  finish(outcomes?: Array<Outcome<number>>): void;
  fail(error: unknown): void;
}

/** A batcher whose batches are held until the test finishes them; by default an input n answers n * 10. */
function harness(options: { maxBatchSize?: number; maxWaitMs?: number; workers?: number; maxQueuedInputs?: number }) {
  const calls: Call[] = [];
  const batcher = new RequestBatcher<string, number, number>({
    maxBatchSize: options.maxBatchSize ?? 4,
    maxWaitMs: options.maxWaitMs ?? 5,
    workers: options.workers ?? 1,
    maxQueuedInputs: options.maxQueuedInputs,
    run: (worker, batch) =>
      new Promise((resolve, reject) => {
        calls.push({
          worker,
          batch,
          finish: (outcomes) => resolve(outcomes ?? batch.inputs.map((n) => ({ ok: true, value: n * 10 }))),
          fail: reject,
        });
      }),
  });
  return { batcher, calls };
}

const values = (outcomes: Array<Outcome<number>>) => outcomes.map((o) => (o.ok ? o.value : o.reason));

describe('RequestBatcher', () => {
  test('concurrent requests of one key share a batch; each caller gets its own outcomes', async () => {
    const { batcher, calls } = harness({ maxBatchSize: 8, maxWaitMs: 20 });
    const a = batcher.submit('m', 'ctx', [1]);
    const b = batcher.submit('m', 'ctx', [2, 3]);
    const c = batcher.submit('m', 'ctx', [4]);
    assert.equal(calls.length, 0, 'waits for more inputs up to maxWaitMs');
    await sleep(40);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.batch.inputs, [1, 2, 3, 4]);
    assert.ok(calls[0]!.batch.waitedMs >= 19, `waited ${calls[0]!.batch.waitedMs} ms`);
    calls[0]!.finish();
    assert.deepEqual(values(await a), [10]);
    assert.deepEqual(values(await b), [20, 30]);
    assert.deepEqual(values(await c), [40]);
  });

  test('a full batch leaves at once, without waiting for maxWaitMs', async () => {
    const { batcher, calls } = harness({ maxBatchSize: 3, maxWaitMs: 10_000 });
    const done = batcher.submit('m', 'ctx', [1, 2, 3]);
    assert.equal(calls.length, 1);
    calls[0]!.finish();
    assert.deepEqual(values(await done), [10, 20, 30]);
  });

  test('a request larger than maxBatchSize is split over batches and reassembled in order', async () => {
    const { batcher, calls } = harness({ maxBatchSize: 4, maxWaitMs: 1, workers: 2 });
    const big = batcher.submit('m', 'ctx', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Two workers × two batches in flight each: 4 + 4 + 2.
    await sleep(10);
    assert.deepEqual(
      calls.map((c) => c.batch.inputs),
      [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
        [9, 10],
      ],
    );
    // Answer out of order: the result is still in input order.
    calls[2]!.finish();
    calls[0]!.finish();
    calls[1]!.finish();
    assert.deepEqual(values(await big), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  });

  test('keys never mix; batches go to the least busy worker', async () => {
    const { batcher, calls } = harness({ maxBatchSize: 2, maxWaitMs: 1, workers: 2 });
    const a = batcher.submit('a', 'ctx-a', [1, 2]);
    const b = batcher.submit('b', 'ctx-b', [3, 4]);
    assert.deepEqual(
      calls.map((c) => [c.worker, c.batch.key, c.batch.context, c.batch.inputs]),
      [
        [0, 'a', 'ctx-a', [1, 2]],
        [1, 'b', 'ctx-b', [3, 4]],
      ],
    );
    calls.forEach((c) => c.finish());
    await Promise.all([a, b]);
  });

  test('while every worker is busy the queue grows into bigger batches', async () => {
    const { batcher, calls } = harness({ maxBatchSize: 8, maxWaitMs: 1, workers: 1 });
    const first = [batcher.submit('m', 'ctx', [1]), batcher.submit('m', 'ctx', [2])];
    await sleep(5);
    const second = [batcher.submit('m', 'ctx', [3])];
    await sleep(5);
    assert.equal(calls.length, 2, 'two batches in flight fill the worker');
    const waiting = [4, 5, 6, 7].map((n) => batcher.submit('m', 'ctx', [n]));
    await sleep(5);
    assert.equal(batcher.stats().queuedInputs, 4);
    calls[0]!.finish();
    await Promise.all(first);
    assert.deepEqual(calls[2]!.batch.inputs, [4, 5, 6, 7]);
    calls.slice(1).forEach((c) => c.finish());
    await Promise.all([...second, ...waiting]);
    assert.deepEqual(batcher.stats().lastBatchSizes, [2, 1, 4]);
    assert.equal(batcher.stats().batchesRun, 3);
  });

  test('a failed batch rejects exactly the requests it held; per-input failures reach only their request', async () => {
    const { batcher, calls } = harness({ maxBatchSize: 2, maxWaitMs: 1, workers: 2 });
    const a = batcher.submit('m', 'ctx', [1, 2]);
    const b = batcher.submit('m', 'ctx', [3, 4]);
    const c = batcher.submit('n', 'ctx', [5]);
    await sleep(5);
    calls[0]!.fail(new Error('child died'));
    calls[1]!.finish([
      { ok: true, value: 30 },
      { ok: false, reason: 'not an image' },
    ]);
    await assert.rejects(a, /child died/);
    assert.deepEqual(values(await b), [30, 'not an image']);
    await sleep(5);
    calls[2]!.finish();
    assert.deepEqual(values(await c), [50]);
  });

  test('when a split request fails, its inputs still queued are dropped', async () => {
    const { batcher, calls } = harness({ maxBatchSize: 2, maxWaitMs: 1, workers: 1 });
    const big = batcher.submit('m', 'ctx', [1, 2, 3, 4, 5, 6]);
    assert.equal(calls.length, 2);
    assert.equal(batcher.stats().queuedInputs, 2);
    calls[0]!.fail(new Error('boom'));
    await assert.rejects(big, /boom/);
    assert.equal(batcher.stats().queuedInputs, 0);
    calls[1]!.finish();
    await sleep(5);
    assert.equal(calls.length, 2, 'nothing more is run for the failed request');
  });

  test('unavailable workers get nothing; queued work waits, and failQueued rejects it', async () => {
    const { batcher, calls } = harness({ maxBatchSize: 2, maxWaitMs: 1, workers: 1 });
    batcher.setAvailable(0, false);
    const waiting = batcher.submit('m', 'ctx', [1]);
    await sleep(5);
    assert.equal(calls.length, 0);
    batcher.setAvailable(0, true);
    await sleep(5);
    assert.equal(calls.length, 1);
    calls[0]!.finish();
    assert.deepEqual(values(await waiting), [10]);

    batcher.setAvailable(0, false);
    const stranded = batcher.submit('m', 'ctx', [2]);
    batcher.failQueued(new Error('no worker'));
    await assert.rejects(stranded, /no worker/);
    assert.equal(batcher.stats().queuedRequests, 0);
  });

  test('beyond maxQueuedInputs submit fails with InferenceOverloadedError', async () => {
    const { batcher } = harness({ maxBatchSize: 2, maxWaitMs: 1, workers: 1, maxQueuedInputs: 3 });
    batcher.setAvailable(0, false);
    const queued = batcher.submit('m', 'ctx', [1, 2, 3]);
    await assert.rejects(batcher.submit('m', 'ctx', [4]), InferenceOverloadedError);
    batcher.failQueued(new Error('end'));
    await assert.rejects(queued, /end/);
  });

  test('an empty request resolves at once', async () => {
    const { batcher, calls } = harness({});
    assert.deepEqual(await batcher.submit('m', 'ctx', []), []);
    assert.equal(calls.length, 0);
  });
});
