import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AugmentationConfigError,
  ImageAugmenter,
  KERAS_EFFICIENTNET_AUGMENTATION,
  augmentBatch,
} from '../../src/data/augmentation.js';
import { SeededRandom } from '../../src/data/seeded-random.js';

function randomImage(h: number, w: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: h * w * 3 }, () => rng.int(256));
}

function at(img: Float32Array, w: number, x: number, y: number, c = 0, offset = 0): number {
  return img[offset + (y * w + x) * 3 + c];
}

function mirror(img: Float32Array, h: number, w: number, axis: 'x' | 'y'): Float32Array {
  const out = new Float32Array(img.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = axis === 'x' ? w - 1 - x : x;
      const sy = axis === 'y' ? h - 1 - y : y;
      for (let c = 0; c < 3; c++) out[(y * w + x) * 3 + c] = img[(sy * w + sx) * 3 + c];
    }
  }
  return out;
}

/** An rng whose uniform() returns fixed fractions of its range, to place transforms exactly. */
function fixedRng(fractions: number[], coin = 0.9): SeededRandom {
  let i = 0;
  return {
    uniform: (low: number, high: number) => low + (high - low) * fractions[i++],
    next: () => coin,
  } as unknown as SeededRandom;
}

describe('ImageAugmenter', () => {
  test('horizontal flip is exact: every image is either untouched or mirrored', () => {
    const h = 5;
    const w = 7;
    const image = randomImage(h, w, 1);
    const mirrored = mirror(image, h, w, 'x');
    const batch = 16;
    const x = new Float32Array(batch * image.length);
    for (let i = 0; i < batch; i++) x.set(image, i * image.length);
    augmentBatch(x, batch, h, w, { flip: true }, new SeededRandom(3));
    let flipped = 0;
    for (let i = 0; i < batch; i++) {
      const out = x.subarray(i * image.length, (i + 1) * image.length);
      if (out.every((v, k) => v === mirrored[k])) flipped++;
      else assert.deepEqual(out, image, `image ${i} is neither original nor mirrored`);
    }
    assert.ok(flipped > 0 && flipped < batch, `flipped ${flipped} of ${batch}`);
  });

  test('vertical flip mode mirrors rows', () => {
    const image = randomImage(4, 6, 2);
    const out = Float32Array.from(image);
    new ImageAugmenter({ flip: 'vertical' }, 4, 6).apply(out, 0, fixedRng([], 0.1));
    assert.deepEqual(out, mirror(image, 4, 6, 'y'));
  });

  test('translation shifts pixels and reflects at the border (d c b a | a b c d)', () => {
    const h = 6;
    const w = 10;
    const image = randomImage(h, w, 4);
    const out = Float32Array.from(image);
    // translation 0.2 → shift range ±2 px; fractions pick dy = 0, dx = +2.
    new ImageAugmenter({ translation: 0.2 }, h, w).apply(out, 0, fixedRng([0.5, 1]));
    for (let y = 0; y < h; y++) {
      for (let x = 2; x < w; x++) assert.equal(at(out, w, x, y), at(image, w, x - 2, y));
      assert.equal(at(out, w, 1, y), at(image, w, 0, y));
      assert.equal(at(out, w, 0, y), at(image, w, 1, y));
    }
  });

  test('rotation by a quarter turn maps (x, y) to (w-1-y, x) about the centre', () => {
    const n = 6;
    const image = randomImage(n, n, 5);
    const out = Float32Array.from(image);
    // rotation 0.25 → angle range ±π/2; fraction 1 picks +π/2.
    new ImageAugmenter({ rotation: 0.25 }, n, n).apply(out, 0, fixedRng([1]));
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        for (let c = 0; c < 3; c++) {
          assert.ok(Math.abs(at(out, n, x, y, c) - at(image, n, n - 1 - y, x, c)) < 1e-3);
        }
      }
    }
  });

  test('constant fill mode fills with 0 instead of reflecting', () => {
    const image = new Float32Array(4 * 4 * 3).fill(100);
    new ImageAugmenter({ translation: 0.5, fillMode: 'constant' }, 4, 4).apply(image, 0, fixedRng([0.5, 1]));
    assert.equal(at(image, 4, 0, 0), 0);
    assert.equal(at(image, 4, 1, 0), 0);
    assert.equal(at(image, 4, 2, 0), 100);
  });

  test('contrast scales around each channel mean and clips to 0..255', () => {
    const image = Float32Array.from([0, 100, 250, 100, 100, 150]);
    // contrast 0.5 → factor range [0.5, 1.5]; fraction 1 picks 1.5.
    new ImageAugmenter({ contrast: 0.5 }, 1, 2).apply(image, 0, fixedRng([1]));
    assert.deepEqual([...image], [0, 100, 255, 125, 100, 125]);
  });

  test('the Keras set is deterministic per seed and actually changes pixels', () => {
    const h = 24;
    const w = 24;
    const image = randomImage(h, w, 6);
    const run = (seed: number): Float32Array => {
      const out = Float32Array.from(image);
      new ImageAugmenter(KERAS_EFFICIENTNET_AUGMENTATION, h, w).apply(out, 0, new SeededRandom(seed));
      return out;
    };
    assert.deepEqual(run(1), run(1));
    assert.notDeepEqual(run(1), run(2));
    assert.notDeepEqual(run(1), image);
    assert.ok(run(1).every((v) => v >= 0 && v <= 255 && Number.isFinite(v)));
  });

  test('augmentBatch with per-image generators does not depend on processing order', () => {
    const h = 8;
    const w = 8;
    const size = h * w * 3;
    const x = new Float32Array(3 * size);
    for (let i = 0; i < 3; i++) x.set(randomImage(h, w, 10 + i), i * size);
    const a = Float32Array.from(x);
    augmentBatch(a, 3, h, w, KERAS_EFFICIENTNET_AUGMENTATION, (i) => new SeededRandom(100 + i));
    const single = Float32Array.from(x.subarray(2 * size));
    new ImageAugmenter(KERAS_EFFICIENTNET_AUGMENTATION, h, w).apply(single, 0, new SeededRandom(102));
    assert.deepEqual(a.subarray(2 * size), single);
  });

  test('false or an empty config is a no-op; bad factors throw', () => {
    const image = randomImage(4, 4, 7);
    const out = Float32Array.from(image);
    const off = new ImageAugmenter(false, 4, 4);
    assert.equal(off.enabled, false);
    off.apply(out, 0, new SeededRandom(1));
    assert.deepEqual(out, image);
    assert.equal(new ImageAugmenter({}, 4, 4).enabled, false);
    assert.throws(() => new ImageAugmenter({ rotation: 1.5 }, 4, 4), AugmentationConfigError);
    assert.throws(() => new ImageAugmenter({ contrast: -0.1 }, 4, 4), AugmentationConfigError);
  });

  test('fast enough for every training image', () => {
    const size = 224;
    const batch = 16;
    const x = new Float32Array(batch * size * size * 3);
    for (let i = 0; i < x.length; i++) x[i] = i % 251;
    const start = performance.now();
    augmentBatch(x, batch, size, size, KERAS_EFFICIENTNET_AUGMENTATION, new SeededRandom(1));
    const perImage = (performance.now() - start) / batch;
    console.log(`augmentation: ${perImage.toFixed(2)} ms per 224×224 image`);
    assert.ok(perImage < 100, `${perImage} ms per image`);
  });
});
