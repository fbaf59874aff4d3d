import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { KERAS_EFFICIENTNET_AUGMENTATION } from '../../src/data/augmentation.js';
import {
  BatchPipelineError,
  createBatchStream,
  type Batch,
  type BatchStreamOptions,
  type ImageDecoder,
} from '../../src/data/batch-pipeline.js';
import type { LabeledImage } from '../../src/data/dataset-directory.js';
import { decodeImage } from '../../src/data/image-decode.js';
import { SeededRandom } from '../../src/data/seeded-random.js';
import { TEXT_FILE, writeShapesDataset } from '../helpers/image-fixtures.js';

const SIZE = 12;
let tmp: string;
let items: LabeledImage[];
/** Pixel hash of each item as the pipeline should deliver it without augmentation. */
let itemByHash: Map<string, number>;

function hash(pixels: Float32Array | Uint8Array): string {
  return createHash('sha1')
    .update(Buffer.from(Float32Array.from(pixels).buffer))
    .digest('hex');
}

async function collect(stream: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const batch of stream) out.push(batch);
  return out;
}

/** Item indices in delivery order, recovered from the pixels. */
function deliveredOrder(batches: Batch[]): number[] {
  const pixels = SIZE * SIZE * 3;
  const order: number[] = [];
  for (const batch of batches) {
    for (let i = 0; i < batch.size; i++) {
      const index = itemByHash.get(hash(batch.x.subarray(i * pixels, (i + 1) * pixels)));
      assert.ok(index !== undefined, 'delivered image matches no item');
      assert.equal(batch.y[i], items[index].label);
      order.push(index);
    }
  }
  return order;
}

function options(overrides: Partial<BatchStreamOptions> = {}): BatchStreamOptions {
  return { items, numClasses: 3, imageSize: SIZE, batchSize: 4, shuffle: true, seed: 7, ...overrides };
}

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'batch-pipeline-'));
  const dataset = await writeShapesDataset(tmp, { perClass: 5, size: 16, seed: 3, layout: 'flat' });
  items = dataset.train.slice(0, 14);
  itemByHash = new Map();
  for (const [i, item] of items.entries()) {
    itemByHash.set(hash((await decodeImage(item.path, { size: SIZE })).data), i);
  }
  assert.equal(itemByHash.size, items.length, 'fixture images must be distinct');
});
after(() => rm(tmp, { recursive: true, force: true }));

describe('createBatchStream', () => {
  test('each epoch yields every item once, in the seeded epoch order, last batch smaller', async () => {
    const stream = createBatchStream(options());
    assert.equal(stream.batchesPerEpoch, 4);
    const epoch0 = await collect(stream.batches(0));
    assert.deepEqual(
      epoch0.map((b) => b.size),
      [4, 4, 4, 2],
    );
    assert.deepEqual(
      epoch0.map((b) => [b.epoch, b.index]),
      [
        [0, 0],
        [0, 1],
        [0, 2],
        [0, 3],
      ],
    );
    assert.equal(epoch0[0].x.length, 4 * SIZE * SIZE * 3);
    assert.ok(epoch0[0].x instanceof Float32Array && epoch0[0].y instanceof Int32Array);
    const order0 = deliveredOrder(epoch0);
    assert.deepEqual(order0, stream.epochOrder(0));
    assert.deepEqual(
      [...order0].sort((a, b) => a - b),
      items.map((_, i) => i),
    );
    const order1 = deliveredOrder(await collect(stream.batches(1)));
    assert.deepEqual(order1, stream.epochOrder(1));
    assert.notDeepEqual(order1, order0);
    // Iterating the stream itself is epoch 0.
    assert.deepEqual(deliveredOrder(await collect(stream)), order0);
  });

  test('order depends on the seed only; shuffle false keeps input order', async () => {
    assert.deepEqual(createBatchStream(options()).epochOrder(3), createBatchStream(options()).epochOrder(3));
    assert.notDeepEqual(
      createBatchStream(options()).epochOrder(0),
      createBatchStream(options({ seed: 8 })).epochOrder(0),
    );
    const plain = createBatchStream(options({ shuffle: false }));
    assert.deepEqual(
      deliveredOrder(await collect(plain.batches(2))),
      items.map((_, i) => i),
    );
  });

  test('augmented batches replay exactly, also when resuming mid-epoch in a new stream', async () => {
    const augmented = options({ augmentation: KERAS_EFFICIENTNET_AUGMENTATION });
    const full = await collect(createBatchStream(augmented).batches(2));
    const resumed = await collect(createBatchStream(augmented).batches(2, { startBatch: 2 }));
    assert.deepEqual(resumed, full.slice(2));
    // Augmentation really ran: pixels no longer match any decoded item.
    assert.equal(itemByHash.get(hash(full[0].x.subarray(0, SIZE * SIZE * 3))), undefined);
    assert.ok(full.every((b) => b.x.every((v) => v >= 0 && v <= 255)));
  });

  test('a stream built from an rng draws its seed from it', () => {
    const a = createBatchStream({ ...options(), seed: undefined, rng: new SeededRandom(5) });
    const b = createBatchStream({ ...options(), seed: undefined, rng: new SeededRandom(5) });
    assert.equal(a.seed, b.seed);
    assert.deepEqual(a.epochOrder(0), b.epochOrder(0));
  });

  test('decodes ahead by exactly `prefetch` batches with at most `decodeConcurrency` in flight', async () => {
    const prefetch = 2;
    const batchSize = 2;
    const decodeConcurrency = 3;
    let inFlight = 0;
    let maxInFlight = 0;
    let started = 0;
    const decode: ImageDecoder = async (file, opts) => {
      started++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await sleep(2);
        return await decodeImage(file, opts);
      } finally {
        inFlight--;
      }
    };
    const stream = createBatchStream(options({ decode, prefetch, decodeConcurrency, batchSize }));
    let received = 0;
    for await (const batch of stream.batches(0)) {
      received++;
      assert.equal(batch.index, received - 1);
      // Slow consumer holding `received` batches: the producer may fill the next `prefetch` batches, no more.
      const allowed = Math.min(items.length, (received + prefetch) * batchSize);
      for (let waited = 0; started < allowed && waited < 5000; waited += 5) await sleep(5);
      await sleep(30);
      assert.equal(started, allowed, `after batch ${batch.index}`);
    }
    assert.equal(started, items.length);
    assert.equal(maxInFlight, decodeConcurrency);
  });

  test('bad files are skipped and counted, not fatal', async () => {
    const bad = path.join(tmp, 'circle', 'broken.png');
    await writeFile(bad, TEXT_FILE);
    const withBad = [...items.slice(0, 5), { path: bad, label: 0 }, ...items.slice(5)];
    const stream = createBatchStream(options({ items: withBad, shuffle: false }));
    const batches = await collect(stream.batches(0));
    assert.deepEqual(
      batches.map((b) => b.size),
      [4, 3, 4, 3],
    );
    assert.equal(batches[1].y.length, 3);
    assert.equal(batches[1].x.length, 3 * SIZE * SIZE * 3);
    assert.deepEqual(
      deliveredOrder(batches),
      items.map((_, i) => i),
    );
    assert.deepEqual(stream.skipped, [{ path: bad, reason: 'not an image' }]);
    await collect(stream.batches(1));
    assert.equal(stream.skipCount, 2);
    assert.equal(stream.skipped.length, 1);
  });

  test('unexpected decoder failures propagate; breaking early is clean', async () => {
    const failing: ImageDecoder = async () => {
      throw new Error('disk on fire');
    };
    await assert.rejects(collect(createBatchStream(options({ decode: failing }))), /disk on fire/);
    let decodes = 0;
    const counting: ImageDecoder = async (file, opts) => {
      decodes++;
      return decodeImage(file, opts);
    };
    for await (const batch of createBatchStream(options({ decode: counting, prefetch: 1 })).batches(0)) {
      assert.equal(batch.index, 0);
      break;
    }
    await sleep(50);
    assert.ok(decodes <= 8, `${decodes} decodes after stopping at the first batch`);
  });

  test('invalid options are rejected', () => {
    assert.throws(() => createBatchStream(options({ batchSize: 0 })), BatchPipelineError);
    assert.throws(() => createBatchStream(options({ numClasses: 2 })), /has label 2, expected 0..1/);
    assert.throws(() => createBatchStream(options({ seed: undefined })), /needs a seed or an rng/);
  });
});
