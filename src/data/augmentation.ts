/**
 * Seeded training-time augmentation on RGB float images (HWC, values 0..255), in plain JS so it runs in the data
 * pipeline without tfjs kernels. Mirrors the keras.io EfficientNet fine-tuning example:
 * RandomRotation(0.15) → RandomTranslation(0.1, 0.1) → RandomFlip → RandomContrast(0.1).
 *
 * Rotation, translation and flip are folded into one affine map per image and sampled once, bilinearly, with
 * Keras' default fill mode 'reflect' (TF ImageProjectiveTransformV3 semantics: d c b a | a b c d | d c b a).
 * Folding means edge pixels are reflected once instead of once per layer; interior pixels are identical.
 * Random draws per image, in this order: angle, vertical shift, horizontal shift, flip(s), contrast factor —
 * each only when that augmentation is enabled, so a given config and RNG state always give the same output.
 */
import { DomainError } from '../errors/domain-error.js';
import type { SeededRandom } from './seeded-random.js';

export type FlipMode = 'horizontal' | 'vertical' | 'horizontal_and_vertical';

export interface AugmentationConfig {
  /** true means 'horizontal'. Each enabled axis flips with probability 0.5. */
  flip?: boolean | FlipMode;
  /** RandomRotation factor: angle uniform in ±factor×2π. 0/undefined = off. */
  rotation?: number;
  /** RandomTranslation factor for both axes: shift uniform in ±factor×size. 0/undefined = off. */
  translation?: number;
  /** RandomContrast factor: per-image factor uniform in [1−f, 1+f], per-channel mean, clipped to 0..255. */
  contrast?: number;
  /** Fill for pixels mapped from outside the image: Keras default 'reflect', or 'constant' (0). */
  fillMode?: 'reflect' | 'constant';
}

export type AugmentationSetting = AugmentationConfig | false;

/** The keras.io EfficientNet example's set (with a horizontal flip). */
export const KERAS_EFFICIENTNET_AUGMENTATION: Readonly<AugmentationConfig> = Object.freeze({
  rotation: 0.15,
  translation: 0.1,
  flip: true,
  contrast: 0.1,
});

export class AugmentationConfigError extends DomainError {
  constructor(message: string) {
    super(400, 'Invalid Augmentation Config', message);
  }
}

function checkFactor(name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (!(value >= 0 && value <= 1))
    throw new AugmentationConfigError(`augmentation ${name} must be in [0, 1], got ${value}`);
  return value;
}

/** Reflects a continuous coordinate into [0, len-1] about the pixel edges -0.5 and len-0.5. */
function reflect(v: number, len: number): number {
  if (v >= 0 && v <= len - 1) return v;
  if (len <= 1) return 0;
  const period = 2 * len;
  let t = (v + 0.5) % period;
  if (t < 0) t += period;
  if (t >= len) t = period - t;
  t -= 0.5;
  return t < 0 ? 0 : t > len - 1 ? len - 1 : t;
}

/** Augments images of one fixed size; holds a scratch buffer, so use one instance per pipeline. */
export class ImageAugmenter {
  readonly enabled: boolean;
  private readonly flipH: boolean;
  private readonly flipV: boolean;
  private readonly rotation: number;
  private readonly translation: number;
  private readonly contrast: number;
  private readonly reflectFill: boolean;
  private readonly scratch: Float32Array;

  constructor(
    setting: AugmentationSetting | undefined,
    readonly height: number,
    readonly width: number,
  ) {
    const config = setting || {};
    const flip = config.flip === true ? 'horizontal' : config.flip || undefined;
    this.flipH = flip === 'horizontal' || flip === 'horizontal_and_vertical';
    this.flipV = flip === 'vertical' || flip === 'horizontal_and_vertical';
    this.rotation = checkFactor('rotation', config.rotation);
    this.translation = checkFactor('translation', config.translation);
    this.contrast = checkFactor('contrast', config.contrast);
    this.reflectFill = (config.fillMode ?? 'reflect') === 'reflect';
    this.enabled = this.flipH || this.flipV || this.rotation > 0 || this.translation > 0 || this.contrast > 0;
    this.scratch = new Float32Array(this.enabled ? height * width * 3 : 0);
  }

  /** Augments the image stored at pixels[offset, offset + height×width×3) in place. */
  apply(pixels: Float32Array, offset: number, rng: SeededRandom): void {
    if (!this.enabled) return;
    const { width: w, height: h } = this;
    const angle = this.rotation > 0 ? rng.uniform(-this.rotation, this.rotation) * 2 * Math.PI : 0;
    const dy = this.translation > 0 ? rng.uniform(-this.translation, this.translation) * h : 0;
    const dx = this.translation > 0 ? rng.uniform(-this.translation, this.translation) * w : 0;
    const fh = this.flipH && rng.next() < 0.5;
    const fv = this.flipV && rng.next() < 0.5;
    const factor = this.contrast > 0 ? rng.uniform(1 - this.contrast, 1 + this.contrast) : 1;

    if (angle !== 0 || dx !== 0 || dy !== 0 || fh || fv) this.warp(pixels, offset, angle, dx, dy, fh, fv);
    if (this.contrast > 0) this.adjustContrast(pixels, offset, factor);
  }

  /** Output pixel (x, y) samples input R(F(x, y) − d): the layer order rotation → translation → flip. */
  private warp(
    pixels: Float32Array,
    offset: number,
    angle: number,
    dx: number,
    dy: number,
    fh: boolean,
    fv: boolean,
  ): void {
    const { width: w, height: h, scratch } = this;
    const cx = (w - 1) / 2;
    const cy = (h - 1) / 2;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const map = (x: number, y: number): [number, number] => {
      const px = (fh ? w - 1 - x : x) - dx - cx;
      const py = (fv ? h - 1 - y : y) - dy - cy;
      return angle === 0 ? [px + cx, py + cy] : [cos * px - sin * py + cx, sin * px + cos * py + cy];
    };
    const [c0, f0] = map(0, 0);
    const [ax, dxy] = map(1, 0);
    const [bx, eyy] = map(0, 1);
    const a = ax - c0;
    const d = dxy - f0;
    const b = bx - c0;
    const e = eyy - f0;
    const reflectFill = this.reflectFill;
    const rowStride = w * 3;

    let o = 0;
    for (let y = 0; y < h; y++) {
      let sx = b * y + c0;
      let sy = e * y + f0;
      for (let x = 0; x < w; x++, sx += a, sy += d, o += 3) {
        const fx = reflectFill ? reflect(sx, w) : sx;
        const fy = reflectFill ? reflect(sy, h) : sy;
        const x0 = Math.floor(fx);
        const y0 = Math.floor(fy);
        const wx = fx - x0;
        const wy = fy - y0;
        // Out-of-range neighbours get weight 0 (constant fill = 0) and a clamped index so reads stay defined.
        const inX0 = x0 >= 0 && x0 < w;
        const inX1 = x0 + 1 >= 0 && x0 + 1 < w;
        const inY0 = y0 >= 0 && y0 < h;
        const inY1 = y0 + 1 >= 0 && y0 + 1 < h;
        const cx0 = x0 < 0 ? 0 : x0 >= w ? w - 1 : x0;
        const cx1 = x0 + 1 < 0 ? 0 : x0 + 1 >= w ? w - 1 : x0 + 1;
        const ry0 = offset + (y0 < 0 ? 0 : y0 >= h ? h - 1 : y0) * rowStride;
        const ry1 = offset + (y0 + 1 < 0 ? 0 : y0 + 1 >= h ? h - 1 : y0 + 1) * rowStride;
        const w00 = inY0 && inX0 ? (1 - wx) * (1 - wy) : 0;
        const w01 = inY0 && inX1 ? wx * (1 - wy) : 0;
        const w10 = inY1 && inX0 ? (1 - wx) * wy : 0;
        const w11 = inY1 && inX1 ? wx * wy : 0;
        const i00 = ry0 + cx0 * 3;
        const i01 = ry0 + cx1 * 3;
        const i10 = ry1 + cx0 * 3;
        const i11 = ry1 + cx1 * 3;
        scratch[o] = w00 * pixels[i00] + w01 * pixels[i01] + w10 * pixels[i10] + w11 * pixels[i11];
        scratch[o + 1] = w00 * pixels[i00 + 1] + w01 * pixels[i01 + 1] + w10 * pixels[i10 + 1] + w11 * pixels[i11 + 1];
        scratch[o + 2] = w00 * pixels[i00 + 2] + w01 * pixels[i01 + 2] + w10 * pixels[i10 + 2] + w11 * pixels[i11 + 2];
      }
    }
    pixels.set(scratch, offset);
  }

  private adjustContrast(pixels: Float32Array, offset: number, factor: number): void {
    const n = this.width * this.height;
    const end = offset + n * 3;
    let r = 0;
    let g = 0;
    let b = 0;
    for (let i = offset; i < end; i += 3) {
      r += pixels[i];
      g += pixels[i + 1];
      b += pixels[i + 2];
    }
    const means = [r / n, g / n, b / n];
    for (let i = offset; i < end; i += 3) {
      for (let ch = 0; ch < 3; ch++) {
        const v = (pixels[i + ch] - means[ch]) * factor + means[ch];
        pixels[i + ch] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
}

/**
 * Augments a batch in place. `rng` is either one generator used image after image, or a function giving each
 * image its own generator (what the batch pipeline does, so results don't depend on decode order).
 */
export function augmentBatch(
  x: Float32Array,
  batch: number,
  height: number,
  width: number,
  setting: AugmentationSetting | undefined,
  rng: SeededRandom | ((index: number) => SeededRandom),
): void {
  const augmenter = new ImageAugmenter(setting, height, width);
  const size = height * width * 3;
  if (x.length < batch * size) throw new RangeError(`augmentBatch: x holds ${x.length} values, need ${batch * size}`);
  for (let i = 0; i < batch; i++) augmenter.apply(x, i * size, typeof rng === 'function' ? rng(i) : rng);
}
