import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ImageDecodeError, decodeImage, probeImage, type DecodedImage } from '../../src/data/image-decode.js';
import {
  TEXT_FILE,
  encode16BitPng,
  encodeAnimated,
  encodeCmykJpeg,
  encodeExifRotatedJpeg,
  encodeGrayscalePng,
  encodeHalves,
  encodeRgbaPng,
  encodeSolid,
  truncated,
  type Rgb,
} from '../helpers/image-fixtures.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'image-decode-'));
});
after(() => rm(tmp, { recursive: true, force: true }));

function pixel(image: DecodedImage, x: number, y: number): Rgb {
  const i = (y * image.width + x) * 3;
  return [image.data[i], image.data[i + 1], image.data[i + 2]];
}

function assertNear(actual: Rgb, expected: Rgb, tolerance: number, what: string): void {
  for (let c = 0; c < 3; c++) {
    assert.ok(
      Math.abs(actual[c] - expected[c]) <= tolerance,
      `${what}: got ${actual}, expected ${expected} ±${tolerance}`,
    );
  }
}

async function rejectsWith(input: string | Buffer, reason: string | RegExp, limits = {}): Promise<void> {
  await assert.rejects(decodeImage(input, { size: 8, ...limits }), (err: unknown) => {
    assert.ok(err instanceof ImageDecodeError, `expected ImageDecodeError, got ${String(err)}`);
    assert.deepEqual([err.status, err.name], [422, 'ImageDecodeError']);
    if (typeof reason === 'string') assert.equal(err.reason, reason);
    else assert.match(err.reason, reason);
    return true;
  });
}

describe('decodeImage', () => {
  test('PNG and JPEG decode to size×size RGB bytes', async () => {
    const png = await decodeImage(await encodeSolid([10, 200, 30], { width: 20, height: 12 }), { size: 8 });
    assert.equal(png.data.length, 8 * 8 * 3);
    assert.ok(png.data instanceof Uint8Array);
    assert.deepEqual([png.width, png.height, png.sourceWidth, png.sourceHeight, png.format], [8, 8, 20, 12, 'png']);
    assert.deepEqual(pixel(png, 5, 5), [10, 200, 30]);
    const jpeg = await decodeImage(await encodeSolid([10, 200, 30], { width: 16, format: 'jpeg' }), { size: 4 });
    assertNear(pixel(jpeg, 1, 1), [10, 200, 30], 6, 'jpeg');
  });

  test('resizes to a square without keeping aspect ratio', async () => {
    const wide = await encodeHalves([255, 0, 0], [0, 0, 255], { width: 32, height: 8 });
    const image = await decodeImage(wide, { size: 8 });
    for (let y = 0; y < 8; y++) {
      assert.deepEqual(pixel(image, 0, y), [255, 0, 0]);
      assert.deepEqual(pixel(image, 7, y), [0, 0, 255]);
    }
  });

  test('EXIF orientation is applied (orientation 6 turns left-red into top-red)', async () => {
    const rotated = await decodeImage(await encodeExifRotatedJpeg(6, 16, 8), { size: 8 });
    assert.deepEqual([rotated.sourceWidth, rotated.sourceHeight], [8, 16]);
    assertNear(pixel(rotated, 0, 0), [255, 0, 0], 40, 'top-left');
    assertNear(pixel(rotated, 7, 0), [255, 0, 0], 40, 'top-right');
    assertNear(pixel(rotated, 0, 7), [0, 0, 255], 40, 'bottom-left');
    // Control: the same pixels with orientation 1 stay left-red/right-blue.
    const upright = await decodeImage(await encodeExifRotatedJpeg(1, 16, 8), { size: 8 });
    assertNear(pixel(upright, 0, 7), [255, 0, 0], 40, 'upright bottom-left');
    assertNear(pixel(upright, 7, 0), [0, 0, 255], 40, 'upright top-right');
  });

  test('CMYK JPEG, 16-bit PNG, grayscale become 8-bit sRGB', async () => {
    const cmyk = await decodeImage(await encodeCmykJpeg([200, 60, 40]), { size: 4 });
    assert.equal(cmyk.data.length, 4 * 4 * 3);
    assertNear(pixel(cmyk, 2, 2), [200, 60, 40], 30, 'cmyk');
    const deep = await decodeImage(await encode16BitPng([40000, 0, 65535]), { size: 4 });
    assertNear(pixel(deep, 1, 1), [156, 0, 255], 1, '16-bit');
    const gray = await decodeImage(await encodeGrayscalePng(77), { size: 4 });
    assert.deepEqual(pixel(gray, 3, 3), [77, 77, 77]);
  });

  test('alpha is composited onto black', async () => {
    const half = await decodeImage(await encodeRgbaPng([200, 100, 50, 128]), { size: 4 });
    assertNear(pixel(half, 0, 0), [100, 50, 25], 2, 'half transparent');
    const opaque = await decodeImage(await encodeRgbaPng([200, 100, 50, 255]), { size: 4 });
    assert.deepEqual(pixel(opaque, 0, 0), [200, 100, 50]);
    const clear = await decodeImage(await encodeRgbaPng([200, 100, 50, 0]), { size: 4 });
    assert.deepEqual(pixel(clear, 0, 0), [0, 0, 0]);
  });

  test('animated GIF and WebP give their first frame', async () => {
    const gif = await decodeImage(
      await encodeAnimated(
        [
          [255, 0, 0],
          [0, 0, 255],
        ],
        8,
        'gif',
      ),
      { size: 4 },
    );
    assertNear(pixel(gif, 2, 2), [255, 0, 0], 2, 'gif');
    const webp = await decodeImage(
      await encodeAnimated(
        [
          [0, 255, 0],
          [0, 0, 255],
        ],
        8,
        'webp',
      ),
      { size: 4 },
    );
    assertNear(pixel(webp, 2, 2), [0, 255, 0], 2, 'webp');
  });

  test('decodes from a path as well as a buffer', async () => {
    const file = path.join(tmp, 'solid.png');
    await writeFile(file, await encodeSolid([1, 2, 3]));
    assert.deepEqual(pixel(await decodeImage(file, { size: 2 }), 1, 1), [1, 2, 3]);
  });

  test('bad inputs fail with short reasons', async () => {
    const png = await encodeHalves([255, 0, 0], [0, 255, 0], { width: 64 });
    const jpeg = await encodeHalves([255, 0, 0], [0, 255, 0], { width: 64, format: 'jpeg' });
    await rejectsWith(TEXT_FILE, 'not an image');
    await rejectsWith(truncated(png), 'truncated or corrupt');
    await rejectsWith(truncated(jpeg), 'truncated or corrupt');
    await rejectsWith(await encodeSolid([0, 0, 0], { width: 1 }), 'image too small (1×1)');
    await rejectsWith(await encodeSolid([0, 0, 0], { width: 1, height: 5 }), 'image too small (1×5)');
    await rejectsWith(await encodeSolid([0, 0, 0], { width: 4 }), 'image too small (4×4)', { minDimension: 5 });
    await rejectsWith(await encodeSolid([0, 0, 0], { width: 100 }), 'too many pixels (100×100 > 5000)', {
      limitInputPixels: 5000,
    });
    await rejectsWith(Buffer.alloc(0), 'empty file');
    await rejectsWith(Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]), 'unsupported image format (bmp)');
    await rejectsWith(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'unsupported image format (svg)');
    await rejectsWith(path.join(tmp, 'missing.png'), 'file not found');
  });

  test('errors name the file they came from', async () => {
    const file = path.join(tmp, 'notes.png');
    await writeFile(file, TEXT_FILE);
    await assert.rejects(decodeImage(file, { size: 8 }), { message: `${file}: not an image` });
  });
});

describe('probeImage', () => {
  test('reports ok with source dimensions, or a reason, without throwing', async () => {
    assert.deepEqual(await probeImage(await encodeSolid([0, 0, 0], { width: 30, height: 20 })), {
      ok: true,
      width: 30,
      height: 20,
      format: 'png',
    });
    const bad = await probeImage(truncated(await encodeHalves([1, 2, 3], [4, 5, 6], { width: 64, format: 'jpeg' })));
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.reason, 'truncated or corrupt');
    const tiny = await probeImage(await encodeSolid([0, 0, 0], { width: 1 }));
    assert.deepEqual(tiny, { ok: false, reason: 'image too small (1×1)', detail: undefined });
    const flood = await probeImage(await encodeSolid([0, 0, 0], { width: 50 }), { limitInputPixels: 100 });
    assert.equal(!flood.ok && flood.reason, 'too many pixels (50×50 > 100)');
  });
});
