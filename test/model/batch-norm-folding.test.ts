import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { tf, type LayersModel, type Tensor } from '../../src/compute/tf.js';
import { isBatchNormalization } from '../../src/model/batch-normalization.js';
import { foldedInferenceModel } from '../../src/model/batch-norm-folding.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { featureExtractor } from '../../src/model/feature-extractor.js';
import type { StemNormalization } from '../../src/model/stem-normalization.js';
import { randomArray } from '../compute/backend-comparison.js';
import { useTestBackend } from '../helpers/tf-backend.js';

// The folded inference graph must compute what the model computes (≤ 1e-4 relative), with fewer kernels.

/** Non-trivial BatchNormalization statistics and parameters, as a trained model has. */
function randomizeBatchNorms(model: LayersModel): void {
  let seed = 1;
  for (const layer of model.layers.filter(isBatchNormalization)) {
    const channels = layer.getWeights()[0]!.shape[0]!;
    const values = [0.5, 0.3, 0.4, 0.5].map((spread, i) => {
      const t = tf.tensor(randomArray(channels, seed++)).mul(spread);
      return i === 0 || i === 3 ? t.abs().add(0.5) : t; // gamma and variance positive
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** Largest |a - b| over the largest |b|. */
function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

describe('BatchNormalization folding', () => {
  before(async () => {
    await useTestBackend('wasm');
  });

  test('the folded B0 agrees with the unfolded one (<= 1e-4 relative) and runs fewer kernels', async () => {
    const model = buildEfficientNet({ architecture: 'b0', imageSize: 64, numClasses: 5, seed: 3 });
    randomizeBatchNorms(model);
    // ImageNet-like statistics, so the stem's affine chain is not the identity.
    (model.getLayer('normalization') as StemNormalization).setStatistics({
      mean: [0.485, 0.456, 0.406],
      variance: [0.052, 0.05, 0.051],
    });
    const features = featureExtractor(model);
    const { model: folded, graph } = foldedInferenceModel(model, [model.outputs[0]!, features.outputs[0]!]);
    assert.equal(graph.folded, 49);
    const x = tf
      .tensor(randomArray(2 * 64 * 64 * 3, 9), [2, 64, 64, 3])
      .add(0.5)
      .mul(255);
    const [probabilities, avgPool] = folded.predict(x) as Tensor[];
    const expected = [model.predict(x) as Tensor, features.predict(x) as Tensor];
    const pairs = [
      [probabilities!, expected[0]!],
      [avgPool!, expected[1]!],
    ] as const;
    for (const [actual, reference] of pairs) {
      const error = relativeError(actual.dataSync() as Float32Array, reference.dataSync() as Float32Array);
      assert.ok(error <= 1e-4, `relative error ${error}`);
    }
    const kernels = async (net: LayersModel) =>
      (await tf.profile(() => tf.dispose(net.predict(x) as Tensor))).kernels.filter((k) => !/__op$/.test(k.name));
    const [before, after] = [
      await kernels(model),
      await kernels(tf.model({ inputs: folded.inputs, outputs: folded.outputs[0]! })),
    ];
    // One FusedBatchNorm left: the stem's three affine layers as one map.
    assert.equal(after.filter((k) => k.name === 'FusedBatchNorm').length, 1);
    assert.equal(after.filter((k) => k.name === 'RealDiv').length, 0);
    // The stride-2 convolutions' ZeroPadding2D became their explicit padding.
    assert.equal(after.filter((k) => k.name === 'PadV2').length, 0);
    assert.ok(after.length < before.length, `${after.length} kernels folded, ${before.length} unfolded`);
    tf.dispose([x, ...expected, probabilities!, avgPool!]);
    graph.dispose();
    model.dispose();
  });
});
