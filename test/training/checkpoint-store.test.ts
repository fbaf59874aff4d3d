import assert from 'node:assert/strict';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { tf, type LayersModel } from '../../src/compute/tf.js';
import { BatchNormalization } from '../../src/model/batch-normalization.js';
import { CheckpointStore } from '../../src/training/checkpoint-store.js';
import { readNamedTensors, writeNamedTensors } from '../../src/training/named-weights-file.js';
import { CheckpointCorruptError } from '../../src/training/training-errors.js';
import { tempDir } from '../helpers/temp-dir.js';
import { useTestBackend } from '../helpers/tf-backend.js';

/** A small model with a BN layer (moving statistics are weights too). */
function smallModel(seed: number): LayersModel {
  const input = tf.input({ shape: [4, 4, 2] });
  let x = tf.layers
    .conv2d({ filters: 3, kernelSize: 3, name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed }) })
    .apply(input) as tf.SymbolicTensor;
  x = new BatchNormalization({ name: 'bn', mode: 'train' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .dense({
      units: 2,
      activation: 'softmax',
      name: 'predictions',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

function values(model: LayersModel): Map<string, number[]> {
  return new Map(model.weights.map((w) => [w.originalName, Array.from(w.read().dataSync())]));
}

function steps(model: LayersModel, optimizer: tf.Optimizer, n: number, from = 0): void {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  for (let i = from; i < from + n; i++) {
    tf.tidy(() => {
      const x = tf.randomUniform([3, 4, 4, 2], 0, 1, 'float32', i);
      const y = tf.oneHot(tf.tensor1d([0, 1, i % 2], 'int32'), 2);
      optimizer.minimize(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        false,
        vars,
      );
    });
  }
}

describe('checkpoint store', () => {
  before(async () => {
    await useTestBackend();
  });

  test('weights (BN statistics included) and Adam state round-trip: resumed steps equal uninterrupted ones', async (t) => {
    const dir = await tempDir(t);
    const store = new CheckpointStore<{ step: number }>(dir);
    const a = smallModel(1);
    const optA = tf.train.adam(0.01);
    steps(a, optA, 3);
    await store.save({ step: 3 }, a, optA, []);
    steps(a, optA, 3, 3);

    const b = smallModel(99);
    const optB = tf.train.adam(0.01);
    assert.deepEqual(await store.readState(), { step: 3 });
    await store.restore(b, optB);
    steps(b, optB, 3, 3);
    assert.deepEqual(values(b), values(a), 'bit-identical after 3 more steps');
    assert.notDeepEqual(values(b).get('bn/moving_mean'), [0, 0, 0]);
    a.dispose();
    b.dispose();
    optA.dispose();
    optB.dispose();
  });

  test('a crash between the two renames falls back to the set-aside checkpoint; leftovers are pruned', async (t) => {
    const dir = await tempDir(t);
    const store = new CheckpointStore<{ step: number }>(dir);
    const model = smallModel(1);
    const optimizer = tf.train.adam();
    await store.save({ step: 1 }, model, optimizer, []);
    // What a crash right after `checkpoint` was renamed aside looks like.
    await rename(path.join(dir, 'checkpoint'), path.join(dir, '.checkpoint.old-1'));
    assert.deepEqual(await store.readState(), { step: 1 });
    await store.restore(model);
    await store.saveBest(model, 'finetune-1');
    await store.saveBest(model, 'finetune-2');
    await store.save({ step: 2 }, model, optimizer, ['finetune-2']);
    assert.deepEqual((await readdir(dir)).sort(), ['best-finetune-2.weights', 'checkpoint']);
    assert.deepEqual(await store.readState(), { step: 2 });
    await store.clear();
    assert.equal(await store.hasCheckpoint(), false);
    optimizer.dispose();
    model.dispose();
  });

  test('truncated or foreign weight files are CheckpointCorruptError naming the file', async (t) => {
    const dir = await tempDir(t);
    const file = path.join(dir, 'w.weights');
    const tensor = tf.tensor1d([1, 2, 3]);
    await writeNamedTensors(file, [{ name: 'a/b', tensor }]);
    const back = await readNamedTensors(file);
    assert.deepEqual(
      back.map((t) => [t.name, Array.from(t.tensor.dataSync())]),
      [['a/b', [1, 2, 3]]],
    );
    tf.dispose([tensor, ...back.map((t) => t.tensor)]);
    await writeFile(file, (await readFile(file)).subarray(0, 20));
    await assert.rejects(
      readNamedTensors(file),
      (e: unknown) => e instanceof CheckpointCorruptError && e.message.includes(file),
    );
    await writeFile(file, 'not a checkpoint');
    await assert.rejects(readNamedTensors(file), CheckpointCorruptError);
  });
});
