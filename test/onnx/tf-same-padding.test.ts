import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tfSamePadding } from '../../src/onnx/tf-same-padding.js';

test('TF SAME padding puts the odd extra row at the end', () => {
  // [input, kernel, stride, dilation] -> [begin, end], as tf.nn.conv2d(padding='SAME') pads.
  const cases: [number, number, number, number, number, number][] = [
    [224, 3, 2, 1, 0, 1],
    [57, 3, 2, 1, 1, 1],
    [16, 5, 2, 1, 1, 2],
    [13, 5, 2, 1, 2, 2],
    [16, 5, 1, 1, 2, 2],
    [7, 1, 1, 1, 0, 0],
    [10, 3, 1, 2, 2, 2],
    [1, 5, 1, 1, 2, 2],
    [2, 3, 3, 1, 0, 1],
  ];
  for (const [input, kernel, stride, dilation, begin, end] of cases) {
    assert.deepEqual(tfSamePadding(input, kernel, stride, dilation), { begin, end }, `${input}/${kernel}/${stride}`);
  }
});
