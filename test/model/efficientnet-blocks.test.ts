import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { architectures, getArchitecture } from '../../src/model/architectures.js';
import {
  correctPad,
  efficientNetLayout,
  parseBlockName,
  roundFilters,
  roundRepeats,
} from '../../src/model/efficientnet-blocks.js';

describe('efficientnet block layout', () => {
  test('round_filters matches Keras on the values that exercise its rounding', () => {
    assert.equal(roundFilters(32, 1.0), 32);
    assert.equal(roundFilters(32, 1.1), 32); // 35.2 -> 32 (within 10%)
    assert.equal(roundFilters(16, 1.1), 16); // 17.6 -> 16
    assert.equal(roundFilters(1280, 1.1), 1408);
    assert.equal(roundFilters(1280, 1.2), 1536);
    assert.equal(roundFilters(24, 1.4), 32); // 33.6 -> 32
    assert.equal(roundFilters(40, 1.8), 72);
    assert.equal(roundFilters(112, 1.6), 176); // 179.2 -> 176
    assert.equal(roundFilters(32, 2.0), 64);
    assert.equal(roundFilters(4, 1.0), 8); // never below the divisor
  });

  test('round_repeats is ceil(depth * repeats)', () => {
    assert.equal(roundRepeats(2, 1.1), 3);
    assert.equal(roundRepeats(4, 3.1), 13);
    assert.equal(roundRepeats(1, 1.0), 1);
  });

  test('correct_pad pads one less on top/left for even sizes', () => {
    assert.deepEqual(correctPad([224, 224], 3), [
      [0, 1],
      [0, 1],
    ]);
    assert.deepEqual(correctPad([113, 113], 5), [
      [2, 2],
      [2, 2],
    ]);
    assert.deepEqual(correctPad([32, 33], 5), [
      [1, 2],
      [2, 2],
    ]);
  });

  test('B0 has Keras block list, drop-connect schedule and SE widths', () => {
    const layout = efficientNetLayout(getArchitecture('b0'));
    assert.equal(layout.stemFilters, 32);
    assert.equal(layout.topFilters, 1280);
    assert.deepEqual(
      layout.blocks.map((b) => b.name),
      [
        'block1a',
        'block2a',
        'block2b',
        'block3a',
        'block3b',
        'block4a',
        'block4b',
        'block4c',
        'block5a',
        'block5b',
        'block5c',
        'block6a',
        'block6b',
        'block6c',
        'block6d',
        'block7a',
      ],
    );
    // drop_connect_rate * b / blocks with 16 blocks.
    layout.blocks.forEach((b, i) => assert.equal(b.dropRate, (0.2 * i) / 16));
    assert.deepEqual(
      layout.blocks.filter((b) => b.hasDrop).map((b) => b.name),
      ['block2b', 'block3b', 'block4b', 'block4c', 'block5b', 'block5c', 'block6b', 'block6c', 'block6d'],
    );
    const block2a = layout.blocks[1]!;
    assert.deepEqual(
      [block2a.filtersIn, block2a.expandedFilters, block2a.seFilters, block2a.filtersOut, block2a.strides],
      [16, 96, 4, 24, 2],
    );
    const block7a = layout.blocks[15]!;
    assert.deepEqual([block7a.filtersIn, block7a.filtersOut, block7a.hasSkip], [192, 320, false]);
  });

  test('block counts per variant follow the depth coefficient', () => {
    assert.deepEqual(
      architectures.map((a) => efficientNetLayout(a).blocks.length),
      [16, 23, 23, 26, 32, 39, 45, 55],
    );
    const b7 = efficientNetLayout(getArchitecture('b7'));
    assert.equal(b7.blocks.filter((b) => b.stage === 6).at(-1)!.name, 'block6m');
  });

  test('dropConnectRate 0 removes every drop layer but keeps the skips', () => {
    const layout = efficientNetLayout(getArchitecture('b0'), 0);
    assert.equal(layout.blocks.filter((b) => b.hasDrop).length, 0);
    assert.equal(layout.blocks.filter((b) => b.hasSkip).length, 9);
  });

  test('parseBlockName reads block names and layer names', () => {
    assert.deepEqual(parseBlockName('block6a'), { stage: 6, index: 0 });
    assert.deepEqual(parseBlockName('block2b_expand_conv'), { stage: 2, index: 1 });
    assert.equal(parseBlockName('top_conv'), undefined);
    assert.equal(parseBlockName('blockXa'), undefined);
  });
});
