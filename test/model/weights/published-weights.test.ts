import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { architectureNames } from '../../../src/model/architectures.js';
import {
  publishedWeightsByFileName,
  publishedWeightsFiles,
  publishedWeightsFor,
  variantOf,
} from '../../../src/model/weights/published-weights.js';

describe('published Keras EfficientNet weights', () => {
  test('B0-B7, with top and notop, each with a distinct md5', () => {
    assert.equal(publishedWeightsFiles.length, 16);
    assert.equal(new Set(publishedWeightsFiles.map((f) => f.md5)).size, 16);
    for (const f of publishedWeightsFiles) assert.match(f.md5, /^[0-9a-f]{32}$/);
    for (const name of architectureNames) {
      assert.ok(publishedWeightsFor(name, true), name);
      assert.ok(publishedWeightsFor(name, false), name);
    }
  });

  test('filenames and hashes as keras.applications has them', () => {
    assert.deepEqual(publishedWeightsFor('efficientnet-b0', false), {
      variant: 'b0',
      includeTop: false,
      fileName: 'efficientnetb0_notop.h5',
      md5: '50bc09e76180e00e4465e1a485ddc09d',
    });
    assert.equal(publishedWeightsFor('b7', true)?.fileName, 'efficientnetb7.h5');
    assert.equal(publishedWeightsFor('b7', true)?.md5, '8c03f828fec3ef71311cd463b6759d99');
    assert.equal(publishedWeightsByFileName('efficientnetb4_notop.h5')?.md5, 'ebc24e6d6c33eaebbd558eafbeedf1ba');
    assert.equal(publishedWeightsByFileName('resnet50.h5'), undefined);
  });

  test('variantOf accepts the forms users type', () => {
    assert.equal(variantOf('efficientnet-b3'), 'b3');
    assert.equal(variantOf('EfficientNetB3'), 'b3');
    assert.equal(variantOf('b3'), 'b3');
    assert.equal(variantOf('b8'), undefined);
    assert.equal(publishedWeightsFor('resnet', false), undefined);
  });
});
