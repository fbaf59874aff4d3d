import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { tf, type LayersModel, type Tensor } from '../../src/compute/tf.js';
import type { BatchNormMode } from '../../src/model/batch-normalization.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { configurePhase, type PhaseOptions } from '../../src/model/training-phase.js';
import { useTestBackend } from '../helpers/tf-backend.js';

/**
 * fit() through the whole B0 network. Runs on the cpu backend: wasm lacks the convolution filter
 * gradients for now (see src/compute/wasm-gradient-kernels.ts).
 */

type Snapshot = Map<string, Float32Array>;

function snapshot(model: LayersModel): Snapshot {
  return new Map(model.weights.map((w) => [w.originalName, w.read().dataSync().slice() as Float32Array]));
}

/** Names of the weights whose values differ (bit for bit) between two snapshots. */
function changed(before: Snapshot, after: Snapshot): Set<string> {
  const names = new Set<string>();
  for (const [name, values] of before) {
    const now = after.get(name)!;
    if (values.some((v, i) => !Object.is(v, now[i]))) names.add(name);
  }
  return names;
}

const isMovingStatistic = (name: string) => /\/moving_(mean|variance)$/.test(name);

describe('fit() on EfficientNet-B0 with each phase and BN mode', () => {
  let x: Tensor;
  let y: Tensor;

  before(async () => {
    await useTestBackend('cpu');
    x = tf.randomUniform([4, 32, 32, 3], 0, 255, 'float32', 1);
    y = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3);
  });

  after(() => tf.dispose([x, y]));

  /** Two SGD steps of batch 2 on a fresh model; returns the names of the weights that changed. */
  async function fitWith(options: PhaseOptions): Promise<Set<string>> {
    // A fresh model per phase: random-init weights after a train-mode phase can overflow the next one.
    const model = buildEfficientNet({ architecture: 'b0', imageSize: 32, numClasses: 3, seed: 8 });
    try {
      configurePhase(model, options);
      model.compile({ optimizer: tf.train.sgd(1e-3), loss: 'categoricalCrossentropy' });
      const before = snapshot(model);
      await model.fit(x, y, { epochs: 1, batchSize: 2, verbose: 0, shuffle: false });
      const after = snapshot(model);
      for (const [name, values] of after) assert.ok(values.every(Number.isFinite), `${name} stays finite`);
      return changed(before, after);
    } finally {
      model.dispose();
    }
  }

  test('head phase, inference BN: only the classifier changes, every moving statistic is bit-identical', async () => {
    const moved = await fitWith({ phase: 'head', bnMode: 'inference' });
    assert.deepEqual([...moved].sort(), ['predictions/bias', 'predictions/kernel']);
  });

  test('head phase, train BN: gammas, betas and moving statistics move; convolutions do not', async () => {
    const moved = await fitWith({ phase: 'head', bnMode: 'train' });
    assert.ok(moved.has('stem_bn/gamma') && moved.has('top_bn/beta'));
    assert.ok(moved.has('stem_bn/moving_mean') && moved.has('block4b_bn/moving_variance'));
    assert.ok(![...moved].some((n) => n.endsWith('/kernel') && !n.startsWith('predictions/')));
    assert.ok(![...moved].some((n) => n.startsWith('normalization/')));
  });

  for (const bnMode of ['inference', 'train'] as BatchNormMode[]) {
    test(`finetune phase, ${bnMode} BN: convolutions train; moving statistics move only in train mode`, async () => {
      const moved = await fitWith({ phase: 'finetune', bnMode });
      assert.ok(moved.has('stem_conv/kernel') && moved.has('block3b_dwconv/depthwise_kernel'));
      assert.ok(moved.has('block6a_se_reduce/bias') && moved.has('top_conv/kernel'));
      const statistics = [...moved].filter(isMovingStatistic);
      if (bnMode === 'inference') assert.deepEqual(statistics, []);
      else assert.equal(statistics.length, 49 * 2);
    });
  }
});
