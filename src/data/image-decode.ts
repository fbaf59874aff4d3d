/**
 * Decodes an untrusted image file into the RGB pixels a model sees, the way Keras'
 * `image_dataset_from_directory` prepares them, with a few deliberate differences (documented below).
 *
 * - Formats: JPEG, PNG, GIF, WebP, TIFF, AVIF, recognised by magic bytes before sharp sees the data, so SVG/PDF
 *   and other vector or exotic loaders are never reached with untrusted input.
 * - EXIF orientation is applied (Keras does not; photos from phones would otherwise be sideways).
 * - Animated GIF/WebP: first frame (Keras `expand_animations=False`).
 * - Grayscale, CMYK (via ICC), 16-bit: converted to 8-bit sRGB RGB.
 * - Alpha: composited onto black. Keras drops the alpha channel and keeps whatever RGB lies under transparent
 *   pixels; encoders almost always store black there, so flattening on black gives the same pixels for typical
 *   files while staying well-defined for the rest.
 * - Resize: exactly size×size, aspect ratio not kept (Keras `crop_to_aspect_ratio=False`), bilinear via libvips'
 *   linear kernel. Unlike `tf.image.resize(..., antialias=False)` libvips widens the kernel when shrinking, i.e.
 *   it anti-aliases; training and serving both use this function, so the model sees one consistent resampler.
 * - Images narrower or shorter than `minDimension` (default 2) are rejected: a 1-pixel-wide image carries no
 *   spatial information and is almost always a tracking pixel or a broken export.
 * - Truncated or corrupt data is an error (`failOn: 'error'`), not a grey-filled image; libjpeg warnings such as
 *   extraneous bytes are tolerated because real datasets are full of them.
 */
import { open } from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { DomainError } from '../errors/domain-error.js';

export const DEFAULT_LIMIT_INPUT_PIXELS = 64_000_000;
export const DEFAULT_MIN_DIMENSION = 2;

export interface ImageLimits {
  /** Largest width×height accepted (of one frame, before orientation). Default 64 MP. */
  limitInputPixels?: number;
  /** Smallest accepted width and height. Default 2. */
  minDimension?: number;
}

export interface DecodeOptions extends ImageLimits {
  /** Output is size×size. */
  size: number;
}

export interface DecodedImage {
  /** RGB, row-major, size*size*3 bytes. */
  data: Uint8Array;
  /** Output size (equal to the requested size). */
  width: number;
  height: number;
  /** Source dimensions after EXIF orientation. */
  sourceWidth: number;
  sourceHeight: number;
  format: string;
}

/** An input that is not a usable image. HTTP 422; `reason` is short and user-facing. */
export class ImageDecodeError extends DomainError {
  constructor(
    /** Short human reason, e.g. 'not an image', 'truncated or corrupt'. */
    readonly reason: string,
    /** File path when decoding from a file (part of the message, so keep server paths out of HTTP answers). */
    readonly source?: string,
    /** Underlying decoder message, for logs. */
    readonly detail?: string,
  ) {
    super(422, 'Invalid Image', source ? `${source}: ${reason}` : reason, { reason });
  }
}

type Sniffed = { format: string } | { unsupported: string } | undefined;

const SNIFF_BYTES = 32;

function startsWith(head: Uint8Array, bytes: number[], offset = 0): boolean {
  if (head.length < offset + bytes.length) return false;
  return bytes.every((b, i) => head[offset + i] === b);
}

function ascii(text: string): number[] {
  return [...text].map((c) => c.charCodeAt(0));
}

/** Identifies the container from its first bytes; only raster formats we support are let through. */
function sniffFormat(head: Uint8Array): Sniffed {
  if (startsWith(head, [0xff, 0xd8, 0xff])) return { format: 'jpeg' };
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { format: 'png' };
  if (startsWith(head, ascii('GIF87a')) || startsWith(head, ascii('GIF89a'))) return { format: 'gif' };
  if (startsWith(head, ascii('RIFF')) && startsWith(head, ascii('WEBP'), 8)) return { format: 'webp' };
  if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) {
    return { format: 'tiff' };
  }
  if (startsWith(head, ascii('ftyp'), 4)) {
    const brand = String.fromCharCode(...head.subarray(8, 12));
    return ['avif', 'avis', 'mif1', 'msf1'].includes(brand) ? { format: 'avif' } : { unsupported: `heif ${brand}` };
  }
  if (startsWith(head, ascii('BM'))) return { unsupported: 'bmp' };
  if (startsWith(head, ascii('%PDF'))) return { unsupported: 'pdf' };
  const text = String.fromCharCode(...head)
    .trimStart()
    .toLowerCase();
  if (text.startsWith('<svg') || text.startsWith('<?xml')) return { unsupported: 'svg' };
  return undefined;
}

async function readHead(input: string | Buffer): Promise<Uint8Array> {
  if (typeof input !== 'string') return input.subarray(0, SNIFF_BYTES);
  let handle;
  try {
    handle = await open(input, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageDecodeError(code === 'ENOENT' ? 'file not found' : `cannot read file (${code})`, input);
  }
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    return head.subarray(0, bytesRead);
  } catch (err) {
    throw new ImageDecodeError(`cannot read file (${(err as NodeJS.ErrnoException).code})`, input);
  } finally {
    await handle.close();
  }
}

function classify(err: unknown, source: string | undefined): ImageDecodeError {
  if (err instanceof ImageDecodeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  let reason = 'truncated or corrupt';
  if (/unsupported image format|not a known file format/i.test(message)) reason = 'not an image';
  else if (/not been built|no decoder|not supported/i.test(message)) reason = 'unsupported image format';
  else if (/input file is missing/i.test(message)) reason = 'file not found';
  else if (/pixel limit/i.test(message)) reason = 'too many pixels';
  return new ImageDecodeError(reason, source, message);
}

/** Everything both decodeImage and probeImage need before pixels are produced. */
async function openChecked(
  input: string | Buffer,
  limits: ImageLimits,
): Promise<{ image: Sharp; format: string; width: number; height: number }> {
  const source = typeof input === 'string' ? input : undefined;
  const limitInputPixels = limits.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS;
  const minDimension = limits.minDimension ?? DEFAULT_MIN_DIMENSION;
  const head = await readHead(input);
  if (head.length === 0) throw new ImageDecodeError('empty file', source);
  const sniffed = sniffFormat(head);
  if (!sniffed) throw new ImageDecodeError('not an image', source);
  if ('unsupported' in sniffed) throw new ImageDecodeError(`unsupported image format (${sniffed.unsupported})`, source);

  const options = { failOn: 'error', pages: 1, page: 0 } as const;
  // The header is read without sharp's pixel limit, so a pixel flood is refused below with its dimensions; the
  // decoding pipeline keeps sharp's limitInputPixels as the backstop should a loader decode more than it declared.
  const image = sharp(input, { ...options, limitInputPixels });
  let meta: Metadata;
  try {
    meta = await sharp(input, { ...options, limitInputPixels: false }).metadata();
  } catch (err) {
    throw classify(err, source);
  }
  const frameHeight = meta.pageHeight ?? meta.height;
  if (!meta.width || !frameHeight) throw new ImageDecodeError('not an image', source);
  if (meta.width * frameHeight > limitInputPixels) {
    throw new ImageDecodeError(`too many pixels (${meta.width}×${frameHeight} > ${limitInputPixels})`, source);
  }
  const rotated = (meta.orientation ?? 1) >= 5;
  const width = rotated ? frameHeight : meta.width;
  const height = rotated ? meta.width : frameHeight;
  if (width < minDimension || height < minDimension) {
    throw new ImageDecodeError(`image too small (${width}×${height})`, source);
  }
  return { image, format: meta.format, width, height };
}

export async function decodeImage(input: string | Buffer, options: DecodeOptions): Promise<DecodedImage> {
  const { size } = options;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`decodeImage: size must be a positive integer`);
  const source = typeof input === 'string' ? input : undefined;
  const { image, format, width, height } = await openChecked(input, options);
  let output: { data: Buffer; info: OutputInfo };
  try {
    output = await image
      .rotate()
      .flatten({ background: '#000000' })
      .resize(size, size, { fit: 'fill', kernel: 'linear' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw classify(err, source);
  }
  const { data, info } = output;
  if (info.channels !== 3 || info.width !== size || info.height !== size || data.length !== size * size * 3) {
    throw new ImageDecodeError(
      `unexpected decoder output (${info.width}×${info.height}×${info.channels})`,
      source,
      JSON.stringify(info),
    );
  }
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    width: size,
    height: size,
    sourceWidth: width,
    sourceHeight: height,
    format,
  };
}

export type ProbeResult =
  { ok: true; width: number; height: number; format: string } | { ok: false; reason: string; detail?: string };

/** Size used for a probe decode: large enough to force reading all data, small enough to be cheap. */
const PROBE_SIZE = 8;

/**
 * Cheap validation: header checks plus a real (downscaled) decode, which reads the whole stream and so catches
 * truncation. Never throws for bad images; other failures (e.g. a bug) still throw.
 */
export async function probeImage(input: string | Buffer, limits: ImageLimits = {}): Promise<ProbeResult> {
  try {
    const decoded = await decodeImage(input, { ...limits, size: PROBE_SIZE });
    return { ok: true, width: decoded.sourceWidth, height: decoded.sourceHeight, format: decoded.format };
  } catch (err) {
    if (err instanceof ImageDecodeError) return { ok: false, reason: err.reason, detail: err.detail };
    throw err;
  }
}
