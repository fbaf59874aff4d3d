/**
 * Real encoded test images made with sharp: a learnable coloured-shapes dataset and single files exercising the
 * decoder's edge cases. Archive builders (zip/tar, including hostile ones) are in test/data/archive-fixtures.ts
 * and re-exported here.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { SeededRandom } from '../../src/data/seeded-random.js';

export * from '../data/archive-fixtures.js';

export type Rgb = [number, number, number];
export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff';

export interface ShapesDatasetOptions {
  /** 2..6. Default 3. */
  classes?: number;
  perClass: number;
  /** Side in pixels. Default 32. */
  size?: number;
  seed?: number;
  /** 'flat': dir/<class>/…, 'wrapped': dir/<wrapper>/<class>/…, 'split': dir/train/<class>/… + dir/val/<class>/…. */
  layout?: 'flat' | 'split' | 'wrapped';
  format?: 'png' | 'jpeg';
  /** Split layout: val images per class. Default max(1, round(perClass / 4)). */
  valPerClass?: number;
  /** What tells the classes apart. Default 'colour+shape' (easiest to learn). */
  cue?: 'colour+shape' | 'colour' | 'shape';
  /** Background noise amplitude. Default 20. */
  noise?: number;
  wrapper?: string;
}

export interface ShapesDataset {
  /** Folder to hand to scanDatasetDirectory/inspectDataset. */
  root: string;
  /** Class names in label order (sorted, as Keras orders them). */
  classes: string[];
  train: Array<{ path: string; label: number }>;
  val: Array<{ path: string; label: number }>;
}

const SHAPES = ['circle', 'square', 'triangle', 'cross', 'ring', 'diamond'] as const;
const PALETTE: Rgb[] = [
  [220, 40, 40],
  [40, 200, 60],
  [50, 80, 230],
  [230, 210, 40],
  [200, 50, 200],
  [40, 200, 210],
];

type Shape = (typeof SHAPES)[number];

/** Point test in shape coordinates (centre 0,0; radius 1). */
function inside(shape: Shape, dx: number, dy: number): boolean {
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy <= 1;
    case 'square':
      return Math.abs(dx) <= 0.85 && Math.abs(dy) <= 0.85;
    case 'triangle':
      return dy >= -1 && dy <= 0.8 && Math.abs(dx) <= ((dy + 1) / 1.8) * 0.95;
    case 'cross':
      return (Math.abs(dx) <= 0.3 && Math.abs(dy) <= 1) || (Math.abs(dy) <= 0.3 && Math.abs(dx) <= 1);
    case 'ring': {
      const d = dx * dx + dy * dy;
      return d <= 1 && d >= 0.36;
    }
    case 'diamond':
      return Math.abs(dx) + Math.abs(dy) <= 1;
  }
}

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** One noisy image of `shape` in `colour`, at a random position and scale. */
export function drawShape(shape: Shape, colour: Rgb, size: number, rng: SeededRandom, noise = 20): Buffer {
  const pixels = Buffer.alloc(size * size * 3);
  const background = rng.uniform(70, 180);
  const tint: Rgb = [rng.uniform(-15, 15), rng.uniform(-15, 15), rng.uniform(-15, 15)];
  const radius = size * rng.uniform(0.2, 0.34);
  const cx = rng.uniform(radius, size - radius);
  const cy = rng.uniform(radius, size - radius);
  const jitter: Rgb = [rng.uniform(-25, 25), rng.uniform(-25, 25), rng.uniform(-25, 25)];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const on = inside(shape, (x + 0.5 - cx) / radius, (y + 0.5 - cy) / radius);
      for (let c = 0; c < 3; c++) {
        const base = on ? colour[c] + jitter[c] : background + tint[c];
        pixels[(y * size + x) * 3 + c] = clampByte(base + rng.uniform(-noise, noise));
      }
    }
  }
  return pixels;
}

export function encodeRaw(
  pixels: Buffer | Uint8Array,
  width: number,
  height: number,
  format: ImageFormat = 'png',
  channels: 1 | 2 | 3 | 4 = 3,
): Promise<Buffer> {
  const image = sharp(pixels, { raw: { width, height, channels } });
  return format === 'jpeg' ? image.jpeg({ quality: 95 }).toBuffer() : image.toFormat(format).toBuffer();
}

export async function writeShapesDataset(dir: string, options: ShapesDatasetOptions): Promise<ShapesDataset> {
  const count = options.classes ?? 3;
  if (count < 2 || count > SHAPES.length) throw new RangeError(`classes must be 2..${SHAPES.length}`);
  const size = options.size ?? 32;
  const layout = options.layout ?? 'flat';
  const format = options.format ?? 'png';
  const cue = options.cue ?? 'colour+shape';
  const valPerClass = layout === 'split' ? (options.valPerClass ?? Math.max(1, Math.round(options.perClass / 4))) : 0;
  const rng = new SeededRandom(options.seed ?? 1);
  const classes = SHAPES.slice(0, count);
  const sorted = [...classes].sort();
  const root = layout === 'wrapped' ? path.join(dir, options.wrapper ?? 'dataset') : dir;
  const ext = format === 'jpeg' ? 'jpg' : 'png';
  const result: ShapesDataset = { root: dir, classes: sorted, train: [], val: [] };

  for (const [k, name] of classes.entries()) {
    const label = sorted.indexOf(name);
    for (const split of layout === 'split' ? (['train', 'val'] as const) : (['train'] as const)) {
      const folder = layout === 'split' ? path.join(root, split, name) : path.join(root, name);
      await mkdir(folder, { recursive: true });
      const n = split === 'train' ? options.perClass : valPerClass;
      for (let i = 0; i < n; i++) {
        const shape = cue === 'colour' ? SHAPES[rng.int(SHAPES.length)] : name;
        const colour = cue === 'shape' ? PALETTE[rng.int(PALETTE.length)] : PALETTE[k];
        const pixels = drawShape(shape, colour, size, rng, options.noise);
        const file = path.join(folder, `${name}_${String(i).padStart(3, '0')}.${ext}`);
        await writeFile(file, await encodeRaw(pixels, size, size, format));
        result[split].push({ path: file, label });
      }
    }
  }
  return result;
}

export function encodeSolid(
  rgb: Rgb,
  options: { width?: number; height?: number; format?: ImageFormat } = {},
): Promise<Buffer> {
  const width = options.width ?? 8;
  const height = options.height ?? width;
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) pixels.set(rgb, i * 3);
  return encodeRaw(pixels, width, height, options.format ?? 'png');
}

/** Left half `left`, right half `right`: orientation and flips are visible in any corner pixel. */
export function encodeHalves(
  left: Rgb,
  right: Rgb,
  options: { width?: number; height?: number; format?: ImageFormat } = {},
): Promise<Buffer> {
  const width = options.width ?? 8;
  const height = options.height ?? width;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels.set(x < width / 2 ? left : right, (y * width + x) * 3);
  }
  return encodeRaw(pixels, width, height, options.format ?? 'png');
}

/** JPEG whose stored pixels are left-red/right-blue, tagged with EXIF `orientation` (6 = rotate 90° clockwise). */
export async function encodeExifRotatedJpeg(orientation: number, width = 16, height = 8): Promise<Buffer> {
  const stored = await encodeHalves([255, 0, 0], [0, 0, 255], { width, height, format: 'png' });
  return sharp(stored).jpeg({ quality: 95 }).withMetadata({ orientation }).toBuffer();
}

export async function encodeCmykJpeg(rgb: Rgb, size = 8): Promise<Buffer> {
  return sharp(await encodeSolid(rgb, { width: size }))
    .toColourspace('cmyk')
    .jpeg({ quality: 95 })
    .toBuffer();
}

/** 16-bit-per-channel RGB PNG filled with `rgb16` (0..65535). */
export function encode16BitPng(rgb16: Rgb, size = 8): Promise<Buffer> {
  const pixels = new Uint16Array(size * size * 3);
  for (let i = 0; i < size * size; i++) pixels.set(rgb16, i * 3);
  return sharp(pixels, { raw: { width: size, height: size, channels: 3 } })
    .toColourspace('rgb16')
    .png()
    .toBuffer();
}

export function encodeGrayscalePng(level: number, size = 8): Promise<Buffer> {
  return encodeRaw(Buffer.alloc(size * size, level), size, size, 'png', 1);
}

export function encodeRgbaPng(rgba: [number, number, number, number], size = 8): Promise<Buffer> {
  const pixels = Buffer.alloc(size * size * 4);
  for (let i = 0; i < size * size; i++) pixels.set(rgba, i * 4);
  return encodeRaw(pixels, size, size, 'png', 4);
}

/** Animated GIF (or WebP) with one solid frame per colour. */
export async function encodeAnimated(frames: Rgb[], size = 8, format: 'gif' | 'webp' = 'gif'): Promise<Buffer> {
  const pngs = await Promise.all(frames.map((rgb) => encodeSolid(rgb, { width: size })));
  const joined = sharp(pngs, { join: { animated: true } });
  return format === 'gif' ? joined.gif().toBuffer() : joined.webp({ lossless: true }).toBuffer();
}

/** The first `fraction` of an encoded image. */
export function truncated(encoded: Buffer, fraction = 0.5): Buffer {
  return encoded.subarray(0, Math.floor(encoded.length * fraction));
}

export const TEXT_FILE = Buffer.from('this is not an image, just text\n');
