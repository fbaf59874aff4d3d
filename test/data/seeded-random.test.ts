import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SeededRandom, SeededRandomStateError, deriveSeed } from '../../src/data/seeded-random.js';

describe('SeededRandom', () => {
  test('same seed gives the same stream, different seeds differ', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const sa = Array.from({ length: 20 }, () => a.nextUint32());
    const sb = Array.from({ length: 20 }, () => b.nextUint32());
    const sc = Array.from({ length: 20 }, () => c.nextUint32());
    assert.deepEqual(sa, sb);
    assert.notDeepEqual(sa, sc);
  });

  test('seeds above 2^32 keep their high bits', () => {
    assert.notEqual(new SeededRandom(1).nextUint32(), new SeededRandom(1 + 2 ** 32).nextUint32());
    assert.notEqual(new SeededRandom(5).nextUint32(), new SeededRandom(-5).nextUint32());
  });

  test('getState/setState resumes the exact stream, and survives JSON', () => {
    const rng = new SeededRandom(7);
    for (let i = 0; i < 10; i++) rng.next();
    const saved = JSON.parse(JSON.stringify(rng.getState()));
    const expected = Array.from({ length: 10 }, () => rng.next());
    const resumed = SeededRandom.fromState(saved);
    assert.deepEqual(
      Array.from({ length: 10 }, () => resumed.next()),
      expected,
    );
  });

  test('setState rejects malformed states', () => {
    const rng = new SeededRandom(1);
    assert.throws(() => rng.setState([0, 0, 0, 0]), SeededRandomStateError);
    assert.throws(() => rng.setState([1, 2, 3] as never), SeededRandomStateError);
    assert.throws(() => rng.setState([1, 2, 3, 2 ** 32]), SeededRandomStateError);
    assert.throws(() => rng.setState([1, 2, 3.5, 4]), SeededRandomStateError);
  });

  test('next() is in [0,1) and roughly uniform; int(n) covers 0..n-1 without bias', () => {
    const rng = new SeededRandom(3);
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const v = rng.next();
      assert.ok(v >= 0 && v < 1);
      sum += v;
    }
    assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[rng.int(6)]++;
    for (const c of counts) assert.ok(Math.abs(c - 10000) < 500, `count ${c}`);
    assert.throws(() => rng.int(0), RangeError);
    assert.throws(() => rng.int(1.5), RangeError);
  });

  test('shuffle is an in-place, seeded permutation', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const a = new SeededRandom(9).shuffle([...items]);
    const b = new SeededRandom(9).shuffle([...items]);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, items);
    assert.deepEqual(
      [...a].sort((x, y) => x - y),
      items,
    );
    const same = [1, 2, 3];
    assert.equal(new SeededRandom(1).shuffle(same), same);
  });

  test('deriveSeed separates streams by every part', () => {
    const seeds = new Set([
      deriveSeed(1, 0, 'order'),
      deriveSeed(1, 1, 'order'),
      deriveSeed(2, 0, 'order'),
      deriveSeed(1, 0, 'augment'),
      deriveSeed(1, 0),
      deriveSeed(1),
    ]);
    assert.equal(seeds.size, 6);
    assert.equal(deriveSeed(1, 0, 'order'), deriveSeed(1, 0, 'order'));
  });
});
