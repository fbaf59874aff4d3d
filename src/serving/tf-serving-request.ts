import sharp from 'sharp';
import { inputName } from './tf-serving-signatures.js';
import { TfServingError } from './tf-serving-error.js';

/**
 * Reads the body of TF Serving's `:predict` (tensorflow_serving/g3doc/api_rest.md, "Predict API"): row format
 * `{"instances": [...]}` or columnar `{"inputs": ...}`, optionally with `signature_name`. Our one input is
 * `pixels`, so an instance is an [imageSize, imageSize, 3] nested list of RGB integers 0..255, `{"b64": …}`
 * image file bytes, or either of them named (`{"pixels": …}`). Where TF Serving has a message for a mistake
 * (json_tensor.cc) we use it word for word; the pixel checks are ours, stricter than a float tensor's.
 */

export type PredictFormat = 'row' | 'columnar';

export interface PredictBody {
  format: PredictFormat;
  signatureName: string | undefined;
  /** The `instances` array or the `inputs` value, not yet checked against the model. */
  values: unknown;
}

/** An instance ready for the inference pool: encoded image bytes (pixel arrays are encoded losslessly as PNG). */
export type InstanceImage = Buffer;

type Json = Record<string, unknown>;

const base64 = /^[A-Za-z0-9+/]*={0,2}$|^[A-Za-z0-9_-]*={0,2}$/;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isB64 = (value: unknown): value is { b64: unknown } =>
  isObject(value) && Object.keys(value).length === 1 && 'b64' in value;

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

/** Step one, before the model is looked up (TF Serving's order): JSON, an object, `signature_name` a string. */
export function parsePredictBody(body: unknown): PredictBody {
  let doc: unknown = body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const text = body.toString();
    if (text.trim() === '') throw new TfServingError(400, 'JSON Parse error: The document is empty');
    try {
      doc = JSON.parse(text);
    } catch (error) {
      throw new TfServingError(400, `JSON Parse error: ${(error as Error).message}`);
    }
  }
  if (!isObject(doc)) throw new TfServingError(400, `JSON Value: ${preview(doc)} Is not object`);
  const signature = doc.signature_name;
  if (signature !== undefined && typeof signature !== 'string') {
    throw new TfServingError(400, `'signature_name' key must be a string value. Got: ${preview(signature)}`);
  }
  const hasInstances = 'instances' in doc;
  const hasInputs = 'inputs' in doc;
  if (hasInstances && hasInputs) {
    throw new TfServingError(
      400,
      "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist",
    );
  }
  if (hasInstances) {
    if (!Array.isArray(doc.instances)) throw new TfServingError(400, "Excepting 'instances' to be an list/array");
    if (doc.instances.length === 0) throw new TfServingError(400, "No values in 'instances' array");
    return { format: 'row', signatureName: signature, values: doc.instances };
  }
  if (hasInputs) return { format: 'columnar', signatureName: signature, values: doc.inputs };
  throw new TfServingError(400, "Missing 'inputs' or 'instances' key");
}

/** Step two, with the model known: every instance checked against its input size and encoded for the pool. */
export async function readInstances(
  body: PredictBody,
  options: { imageSize: number; maxInstances: number },
): Promise<InstanceImage[]> {
  const items = body.format === 'row' ? rowItems(body.values as unknown[]) : columnarItems(body.values);
  if (items.length > options.maxInstances) {
    throw new TfServingError(
      400,
      `too many instances: ${items.length}, at most ${options.maxInstances} per call (PREDICT_MAX_INSTANCES)`,
    );
  }
  const where = (i: number) =>
    body.format === 'row' ? `Failed to process element: ${i} of 'instances' list. Error: ` : `'inputs' item ${i}: `;
  return Promise.all(items.map((item, i) => encodeInstance(item, options.imageSize, where(i))));
}

/** The `instances` list: plain values, or objects naming our one input; not a mix (as TF Serving requires). */
function rowItems(instances: unknown[]): unknown[] {
  const named = isObject(instances[0]) && !isB64(instances[0]);
  return instances.map((instance, i) => {
    const isNamed = isObject(instance) && !isB64(instance);
    if (named && !isNamed) throw new TfServingError(400, `Expecting object but got list at item ${i} of input list`);
    if (!named && isNamed) {
      throw new TfServingError(400, `Expecting value/list but got object at item ${i} of input list`);
    }
    if (!isNamed) return instance;
    const keys = Object.keys(instance);
    if (keys.length !== 1 || keys[0] !== inputName) {
      throw new TfServingError(
        400,
        `Failed to process element: ${i} of 'instances' list. JSON object: ${preview(instance)} keys must be equal ` +
          `to: ${inputName}`,
      );
    }
    return instance[inputName];
  });
}

/** The `inputs` value: our input's batch, bare or as `{"pixels": batch}`. */
function columnarItems(inputs: unknown): unknown[] {
  let batch = inputs;
  if (isObject(inputs) && !isB64(inputs)) {
    if (!(inputName in inputs)) throw new TfServingError(400, `Missing named input: ${inputName} in 'inputs' object.`);
    batch = inputs[inputName];
  }
  if (!Array.isArray(batch) || batch.length === 0) {
    throw new TfServingError(
      400,
      `'inputs' must hold a non-empty batch: a list of [H, W, 3] pixel arrays or {"b64": …} images, got ` +
        preview(batch),
    );
  }
  return batch;
}

async function encodeInstance(item: unknown, size: number, where: string): Promise<InstanceImage> {
  if (isB64(item)) {
    const text = typeof item.b64 === 'string' ? item.b64.replace(/\s+/g, '') : '';
    if (text.length === 0 || !base64.test(text) || text.length % 4 === 1) {
      throw new TfServingError(400, `${where}Unable to base64 decode`);
    }
    return Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
  }
  if (!Array.isArray(item)) {
    throw new TfServingError(
      400,
      `${where}expected an [${size}, ${size}, 3] array of pixels or {"b64": …}, got ${preview(item)}`,
    );
  }
  const pixels = pixelsOf(item, size, where);
  // Lossless, and decoded back to the same bytes: the pool then treats it like any uploaded image.
  return sharp(pixels, { raw: { width: size, height: size, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

function shapeOf(value: unknown): number[] {
  const shape: number[] = [];
  for (let v = value; Array.isArray(v); v = v[0]) shape.push(v.length);
  return shape;
}

/**
 * An [size, size, 3] array of integers 0..255 as RGB bytes. Stricter than TF Serving's DT_FLOAT input: a
 * fraction (an image scaled to 0..1, the usual mistake) or another size is an error, not a silent misread.
 */
function pixelsOf(rows: unknown[], size: number, where: string): Uint8Array {
  const data = new Uint8Array(size * size * 3);
  const badShape = () =>
    new TfServingError(
      400,
      `${where}expected pixels of shape [${size}, ${size}, 3] (the model's input size, RGB), got ` +
        `[${shapeOf(rows).join(', ')}]`,
    );
  if (rows.length !== size) throw badShape();
  let i = 0;
  for (let y = 0; y < size; y++) {
    const row = rows[y];
    if (!Array.isArray(row) || row.length !== size) throw badShape();
    for (let x = 0; x < size; x++) {
      const pixel = row[x] as unknown;
      if (!Array.isArray(pixel) || pixel.length !== 3) throw badShape();
      for (let c = 0; c < 3; c++) {
        const v = pixel[c] as unknown;
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
          throw new TfServingError(
            400,
            `${where}pixel values must be integers 0..255 (RGB, as Keras EfficientNet takes them), got ` +
              `${preview(v)} at [${y}, ${x}, ${c}]`,
          );
        }
        data[i++] = v;
      }
    }
  }
  return data;
}
