import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  architectureNames,
  architectures,
  getArchitecture,
  UnknownArchitectureError,
} from '../../src/model/architectures.js';

describe('architectures', () => {
  test('lists the eight Keras variants in order with their constants', () => {
    assert.deepEqual(
      architectures.map((a) => a.name),
      [...architectureNames],
    );
    assert.deepEqual(
      architectures.map((a) => [a.widthCoefficient, a.depthCoefficient, a.defaultImageSize, a.dropoutRate]),
      [
        [1.0, 1.0, 224, 0.2],
        [1.0, 1.1, 240, 0.2],
        [1.1, 1.2, 260, 0.3],
        [1.2, 1.4, 300, 0.3],
        [1.4, 1.8, 380, 0.4],
        [1.6, 2.2, 456, 0.4],
        [1.8, 2.6, 528, 0.5],
        [2.0, 3.1, 600, 0.5],
      ],
    );
    assert.deepEqual(
      architectures.map((a) => a.featureDim),
      [1280, 1280, 1408, 1536, 1792, 2048, 2304, 2560],
    );
  });

  test('getArchitecture accepts full and short names', () => {
    assert.equal(getArchitecture('efficientnet-b3').name, 'efficientnet-b3');
    assert.equal(getArchitecture('b3').name, 'efficientnet-b3');
    assert.equal(getArchitecture('B7').baseParams, 64097680);
  });

  test('getArchitecture rejects anything else with a typed error', () => {
    for (const bad of ['b8', 'efficientnet', 'resnet50', '', 'efficientnet-b']) {
      assert.throws(() => getArchitecture(bad), UnknownArchitectureError);
    }
  });
});
