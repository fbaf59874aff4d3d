import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf, type LayersModel, type Tensor } from '../../src/compute/tf.js';
import { BatchNormalization } from '../../src/model/batch-normalization.js';
import { buildEfficientNet, InvalidModelOptionsError } from '../../src/model/efficientnet.js';
import { StemNormalization } from '../../src/model/stem-normalization.js';
import { useTestBackend } from '../helpers/tf-backend.js';

/** Deterministic values in [lo, hi) (a small LCG, so the test needs no fixtures). */
function pseudoRandom(count: number, seed: number, lo = -1, hi = 1): number[] {
  let state = seed >>> 0;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return lo + ((hi - lo) * state) / 2 ** 32;
  });
}

function image(size: number, batch = 1, seed = 7): Tensor {
  return tf.tensor4d(pseudoRandom(batch * size * size * 3, seed, 0, 256).map(Math.floor), [batch, size, size, 3]);
}

function outputOf(model: LayersModel, layerName: string): LayersModel {
  return tf.model({ inputs: model.inputs, outputs: model.getLayer(layerName).output as tf.SymbolicTensor });
}

/** Relative error as max|a - b| / max|b|. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / scale;
}

/**
 * Keras' stem in float64 with plain loops: /255, Normalization, 1/sqrt(stddev), correct_pad zero
 * padding, 3x3 stride-2 valid conv without bias, BN (eps 1e-3) with moving statistics, swish.
 */
function referenceStem(
  pixels: ArrayLike<number>,
  size: number,
  stats: { mean: number[]; variance: number[] },
  kernel: number[],
  filters: number,
  bn: { gamma: number[]; beta: number[]; mean: number[]; variance: number[] },
): { values: number[]; outSize: number } {
  const stddev = [0.229, 0.224, 0.225];
  const x = Array.from(pixels, (v, i) => {
    const c = i % 3;
    return ((v / 255 - stats.mean[c]!) / Math.max(Math.sqrt(stats.variance[c]!), 1e-7)) * (1 / Math.sqrt(stddev[c]!));
  });
  // correct_pad for a 3x3 kernel: (0, 1) on even sizes, (1, 1) on odd ones.
  const padBefore = size % 2 === 0 ? 0 : 1;
  const padded = size + padBefore + 1;
  const outSize = Math.floor((padded - 3) / 2) + 1;
  const values: number[] = [];
  for (let oh = 0; oh < outSize; oh++) {
    for (let ow = 0; ow < outSize; ow++) {
      for (let f = 0; f < filters; f++) {
        let sum = 0;
        for (let kh = 0; kh < 3; kh++) {
          for (let kw = 0; kw < 3; kw++) {
            const h = oh * 2 + kh - padBefore;
            const w = ow * 2 + kw - padBefore;
            if (h < 0 || w < 0 || h >= size || w >= size) continue;
            for (let c = 0; c < 3; c++)
              sum += x[(h * size + w) * 3 + c]! * kernel[((kh * 3 + kw) * 3 + c) * filters + f]!;
          }
        }
        const normed = ((sum - bn.mean[f]!) / Math.sqrt(bn.variance[f]! + 1e-3)) * bn.gamma[f]! + bn.beta[f]!;
        values.push(normed / (1 + Math.exp(-normed)));
      }
    }
  }
  return { values, outSize };
}

describe('buildEfficientNet', () => {
  before(async () => {
    await useTestBackend();
  });

  test('B0 has Keras layer names and Keras counts of layers', () => {
    const model = buildEfficientNet({ architecture: 'efficientnet-b0', imageSize: 32, numClasses: 1000 });
    const names = model.layers.map((l) => l.name);
    assert.equal(new Set(names).size, names.length, 'layer names are unique');
    for (const name of [
      'rescaling',
      'normalization',
      'rescaling_1',
      'stem_conv_pad',
      'stem_conv',
      'stem_bn',
      'stem_activation',
      'block1a_dwconv',
      'block1a_se_squeeze',
      'block1a_se_reshape',
      'block1a_se_reduce',
      'block1a_se_expand',
      'block1a_se_excite',
      'block1a_project_bn',
      'block2a_expand_conv',
      'block2a_dwconv_pad',
      'block2b_drop',
      'block2b_add',
      'block6d_project_bn',
      'block7a_project_bn',
      'top_conv',
      'top_bn',
      'top_activation',
      'avg_pool',
      'top_dropout',
      'predictions',
    ]) {
      assert.ok(names.includes(name), `missing ${name}`);
    }
    for (const absent of ['block1a_expand_conv', 'block1a_add', 'block2a_add', 'block5a_add', 'block7a_add']) {
      assert.ok(!names.includes(absent), `unexpected ${absent}`);
    }
    // Keras EfficientNetB0: 132 layers hold weights, 238 layers without the top, 241 with it.
    assert.equal(model.layers.filter((l) => l.weights.length > 0).length, 132);
    assert.equal(model.layers.length, 241);
    assert.equal(model.name, 'efficientnetb0');
    assert.ok(model.layers.filter((l) => l.name.endsWith('bn')).every((l) => l instanceof BatchNormalization));
    assert.ok(model.getLayer('normalization') instanceof StemNormalization);
    model.dispose();
  });

  test('include_top=False ends at top_activation; drop-connect rates follow drop_connect_rate * b / blocks', () => {
    const model = buildEfficientNet({ architecture: 'b0', imageSize: 32, includeHead: false });
    assert.equal(model.layers.length, 238);
    assert.equal(model.outputs[0]!.name.startsWith('top_activation'), true);
    assert.deepEqual(model.outputs[0]!.shape, [null, 1, 1, 1280]);
    const drop = model.getLayer('block6d_drop').getConfig();
    assert.equal(drop.rate, (0.2 * 14) / 16);
    assert.deepEqual(drop.noiseShape, [null, 1, 1, 1]);
    model.dispose();
  });

  test('works at any size >= 32, padding stride-2 layers per correct_pad', () => {
    for (const [size, stemSize, finalSize] of [
      [32, 16, 1],
      [33, 17, 2],
      [57, 29, 2],
    ] as const) {
      const model = buildEfficientNet({ architecture: 'b0', imageSize: size, includeHead: false });
      assert.equal(model.getLayer('stem_activation').outputShape[1], stemSize, `stem at ${size}`);
      assert.equal((model.outputs[0]!.shape as number[])[1], finalSize, `top at ${size}`);
      const pad = model.getLayer('stem_conv_pad').getConfig().padding;
      assert.deepEqual(
        pad,
        size % 2 === 0
          ? [
              [0, 1],
              [0, 1],
            ]
          : [
              [1, 1],
              [1, 1],
            ],
      );
      model.dispose();
    }
    assert.throws(
      () => buildEfficientNet({ architecture: 'b0', imageSize: 31, numClasses: 2 }),
      InvalidModelOptionsError,
    );
    assert.throws(() => buildEfficientNet({ architecture: 'b0', imageSize: 32 }), InvalidModelOptionsError);
    assert.throws(
      () => buildEfficientNet({ architecture: 'b0', imageSize: 32, numClasses: 2, dropConnectRate: 1 }),
      InvalidModelOptionsError,
    );
  });

  for (const size of [32, 33]) {
    test(`stem forward pass matches a plain-JS Keras stem at ${size}px`, () => {
      const model = buildEfficientNet({ architecture: 'b0', imageSize: size, includeHead: false, seed: 3 });
      const filters = 32;
      const stats = { mean: [0.485, 0.456, 0.406], variance: [0.229, 0.224, 0.225] };
      (model.getLayer('normalization') as StemNormalization).setStatistics(stats);
      const kernel = pseudoRandom(3 * 3 * 3 * filters, 11, -0.5, 0.5);
      const bn = {
        gamma: pseudoRandom(filters, 12, 0.5, 1.5),
        beta: pseudoRandom(filters, 13, -0.5, 0.5),
        mean: pseudoRandom(filters, 14, -0.3, 0.3),
        variance: pseudoRandom(filters, 15, 0.2, 2),
      };
      model.getLayer('stem_conv').setWeights([tf.tensor4d(kernel, [3, 3, 3, filters])]);
      model.getLayer('stem_bn').setWeights([bn.gamma, bn.beta, bn.mean, bn.variance].map((v) => tf.tensor1d(v)));

      const x = image(size);
      const stem = outputOf(model, 'stem_activation');
      const out = stem.predict(x) as Tensor;
      const expected = referenceStem(x.dataSync(), size, stats, kernel, filters, bn);
      assert.deepEqual(out.shape, [1, expected.outSize, expected.outSize, filters]);
      const error = relativeError(out.dataSync(), expected.values);
      assert.ok(error < 1e-5, `relative error ${error}`);
      tf.dispose([x, out]);
      model.dispose();
    });
  }

  test('drop-connect and top dropout are the identity in predict()', () => {
    const withDrop = buildEfficientNet({ architecture: 'b0', imageSize: 32, numClasses: 4, seed: 5 });
    const without = buildEfficientNet({
      architecture: 'b0',
      imageSize: 32,
      numClasses: 4,
      seed: 5,
      dropConnectRate: 0,
      dropoutRate: 0,
    });
    assert.ok(!without.layers.some((l) => l.name.endsWith('_drop') || l.name === 'top_dropout'));
    const x = image(32, 2);
    const [a, b, c] = [withDrop.predict(x), withDrop.predict(x), without.predict(x)] as Tensor[];
    assert.deepEqual(Array.from(a!.dataSync()), Array.from(b!.dataSync()));
    assert.deepEqual(Array.from(a!.dataSync()), Array.from(c!.dataSync()));
    tf.dispose([x, a, b, c]);
    withDrop.dispose();
    without.dispose();
  });

  test('training=true changes nothing in bnMode inference without dropout, and uses batch statistics in train', () => {
    for (const bnMode of ['inference', 'train'] as const) {
      const model = buildEfficientNet({
        architecture: 'b0',
        imageSize: 32,
        numClasses: 4,
        seed: 9,
        bnMode,
        dropConnectRate: 0,
        dropoutRate: 0,
      });
      const x = image(32, 2);
      const predicted = model.predict(x) as Tensor;
      const trained = model.apply(x, { training: true }) as Tensor;
      const same = relativeError(trained.dataSync(), predicted.dataSync()) === 0;
      assert.equal(same, bnMode === 'inference', `bnMode ${bnMode}`);
      tf.dispose([x, predicted, trained]);
      model.dispose();
    }
  });

  test('toJSON / modelFromJSON round trip keeps the custom layers and the predictions', async () => {
    const model = buildEfficientNet({ architecture: 'b0', imageSize: 32, numClasses: 3, seed: 2, bnMode: 'train' });
    (model.getLayer('normalization') as StemNormalization).setStatistics({
      mean: [0.5, 0.4, 0.3],
      variance: [0.05, 0.06, 0.07],
      count: 10,
    });
    const json = JSON.parse(JSON.stringify(model.toJSON(undefined, false)));
    const restored = await tf.models.modelFromJSON(json);
    restored.setWeights(model.getWeights());
    assert.deepEqual(
      restored.layers.map((l) => l.name),
      model.layers.map((l) => l.name),
    );
    assert.equal((restored.getLayer('top_bn') as BatchNormalization).mode, 'train');
    assert.deepEqual(
      restored.getLayer('rescaling_1').getConfig().scale,
      model.getLayer('rescaling_1').getConfig().scale,
    );
    assert.deepEqual(restored.getLayer('block2b_drop').getConfig().noiseShape, [null, 1, 1, 1]);
    const x = image(32, 2);
    const [a, b] = [model.predict(x), restored.predict(x)] as Tensor[];
    assert.deepEqual(Array.from(b!.dataSync()), Array.from(a!.dataSync()));
    tf.dispose([x, a, b]);
    restored.dispose();
    model.dispose();
  });

  test('save / load through tfjs IO keeps Keras weight names and the predictions', async () => {
    const model = buildEfficientNet({ architecture: 'b0', imageSize: 32, numClasses: 3, seed: 4 });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const names = artifacts!.weightSpecs!.map((s) => s.name);
    assert.ok(names.includes('normalization/count'));
    assert.ok(names.includes('block2b_expand_bn/moving_variance'));
    assert.ok(names.includes('block1a_dwconv/depthwise_kernel'));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    const x = image(32, 1);
    const [a, b] = [model.predict(x), loaded.predict(x)] as Tensor[];
    assert.deepEqual(Array.from(b!.dataSync()), Array.from(a!.dataSync()));
    tf.dispose([x, a, b]);
    loaded.dispose();
    model.dispose();
  });

  test('B0 at 224 px runs one image to a probability vector', () => {
    const model = buildEfficientNet({ architecture: 'b0', numClasses: 1000, seed: 1 });
    const x = image(224);
    const probabilities = model.predict(x) as Tensor;
    assert.deepEqual(probabilities.shape, [1, 1000]);
    const values = Array.from(probabilities.dataSync());
    const sum = values.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `sum ${sum}`);
    assert.ok(values.every((v) => v >= 0 && Number.isFinite(v)));
    tf.dispose([x, probabilities]);
    model.dispose();
  });

  test('repeated predict() calls leave no tensors behind', () => {
    const model = buildEfficientNet({ architecture: 'b0', imageSize: 32, numClasses: 3, bnMode: 'train' });
    const x = image(32, 2);
    tf.dispose(model.predict(x) as Tensor); // warm-up
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(model.predict(x) as Tensor);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose(x);
    model.dispose();
  });

  test('dispose() frees every weight of the model', () => {
    const before = tf.memory().numTensors;
    const model = buildEfficientNet({ architecture: 'b0', imageSize: 32, numClasses: 3 });
    assert.ok(tf.memory().numTensors > before);
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});
