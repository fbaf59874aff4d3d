import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stratifiedSplit } from '../../src/data/stratified-split.js';

function makeItems(counts: number[]): Array<{ id: string; label: number }> {
  const items: Array<{ id: string; label: number }> = [];
  counts.forEach((n, label) => {
    for (let i = 0; i < n; i++) items.push({ id: `${label}-${i}`, label });
  });
  // Interleave classes so input order is not grouped by label.
  return items.sort((a, b) => (a.id.split('-')[1] + a.label).localeCompare(b.id.split('-')[1] + b.label));
}

function countByLabel(items: Array<{ label: number }>): Record<number, number> {
  const out: Record<number, number> = {};
  for (const item of items) out[item.label] = (out[item.label] ?? 0) + 1;
  return out;
}

describe('stratifiedSplit', () => {
  test('keeps class proportions and partitions the input', () => {
    const items = makeItems([40, 20, 10]);
    const { train, val } = stratifiedSplit(items, 0.25, 1);
    assert.deepEqual(countByLabel(val), { 0: 10, 1: 5, 2: 3 });
    assert.deepEqual(countByLabel(train), { 0: 30, 1: 15, 2: 7 });
    const ids = [...train, ...val].map((i) => i.id).sort();
    assert.deepEqual(ids, items.map((i) => i.id).sort());
  });

  test('small classes: at least one val item when a class has ≥2, none when it has 1', () => {
    const { train, val } = stratifiedSplit(makeItems([2, 1, 3]), 0.1, 5);
    assert.deepEqual(countByLabel(val), { 0: 1, 2: 1 });
    assert.deepEqual(countByLabel(train), { 0: 1, 1: 1, 2: 2 });
    // A split that would take everything still leaves one training item.
    const greedy = stratifiedSplit(makeItems([3]), 0.9, 5);
    assert.equal(greedy.train.length, 1);
    assert.equal(greedy.val.length, 2);
  });

  test('deterministic per seed, different across seeds, input order preserved within each side', () => {
    const items = makeItems([30, 30]);
    const a = stratifiedSplit(items, 0.2, 11);
    const b = stratifiedSplit(items, 0.2, 11);
    const c = stratifiedSplit(items, 0.2, 12);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.val, c.val);
    const position = new Map(items.map((item, i) => [item.id, i]));
    for (const side of [a.train, a.val]) {
      const positions = side.map((i) => position.get(i.id)!);
      assert.deepEqual(
        positions,
        [...positions].sort((x, y) => x - y),
      );
    }
  });

  test('adding a class does not change how the others are split', () => {
    const base = makeItems([20, 20]);
    const extended = [...base, ...Array.from({ length: 20 }, (_, i) => ({ id: `2-${i}`, label: 2 }))];
    const a = stratifiedSplit(base, 0.25, 3);
    const b = stratifiedSplit(extended, 0.25, 3);
    assert.deepEqual(
      a.val.map((i) => i.id),
      b.val.filter((i) => i.label !== 2).map((i) => i.id),
    );
  });

  test('validationSplit 0 keeps everything in train; out-of-range values throw', () => {
    const items = makeItems([3, 3]);
    assert.deepEqual(stratifiedSplit(items, 0, 1), { train: items, val: [] });
    assert.throws(() => stratifiedSplit(items, 1, 1), RangeError);
    assert.throws(() => stratifiedSplit(items, -0.1, 1), RangeError);
    assert.throws(() => stratifiedSplit(items, Number.NaN, 1), RangeError);
  });
});
