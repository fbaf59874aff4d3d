import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluatePredictions } from '../../src/training/evaluation.js';

describe('evaluatePredictions', () => {
  test('accuracy, loss, per-class precision/recall/F1/support and the confusion matrix', () => {
    // Rows: true labels 0, 0, 1, 2; predictions 0, 1, 1, 2.
    const p = Float32Array.from([0.7, 0.2, 0.1, 0.3, 0.6, 0.1, 0.1, 0.8, 0.1, 0.2, 0.2, 0.6]);
    const e = evaluatePredictions(p, [0, 0, 1, 2], ['a', 'b', 'c']);
    assert.equal(e.images, 4);
    assert.equal(e.accuracy, 0.75);
    const expectedLoss = -(Math.log(0.7) + Math.log(0.3) + Math.log(0.8) + Math.log(0.6)) / 4;
    assert.ok(Math.abs(e.loss - expectedLoss) < 1e-6);
    assert.deepEqual(e.confusionMatrix, [
      [1, 1, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    const [a, b, c] = e.perClass;
    assert.deepEqual(a, { name: 'a', precision: 1, recall: 0.5, f1: 2 / 3, support: 2 });
    assert.deepEqual(b, { name: 'b', precision: 0.5, recall: 1, f1: 2 / 3, support: 1 });
    assert.deepEqual(c, { name: 'c', precision: 1, recall: 1, f1: 1, support: 1 });
    assert.ok(Math.abs(e.macro.f1 - (2 / 3 + 2 / 3 + 1) / 3) < 1e-12);
    assert.equal(e.top5Accuracy, undefined);
  });

  test('top-5 accuracy with more than 5 classes; a never-predicted class has precision 0', () => {
    const classes = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    // True class 6 ranked 6th of 7 (miss), true class 0 ranked 2nd (top-5 hit, top-1 miss).
    const row1 = [0.3, 0.25, 0.2, 0.1, 0.08, 0.02, 0.05];
    const row2 = [0.3, 0.4, 0.1, 0.1, 0.05, 0.03, 0.02];
    const e = evaluatePredictions(Float32Array.from([...row1, ...row2]), [6, 0], classes);
    assert.equal(e.top5Accuracy, 0.5);
    assert.equal(e.accuracy, 0);
    assert.equal(e.perClass[6]!.precision, 0);
    assert.equal(e.perClass[3]!.support, 0);
  });

  test('rejects a probability array of the wrong size', () => {
    assert.throws(() => evaluatePredictions(new Float32Array(5), [0, 1], ['a', 'b']), RangeError);
  });
});
