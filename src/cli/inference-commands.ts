import { parseArgs } from 'node:util';
import { backendPreferences, selectBackend, type BackendPreference } from '../compute/backend.js';
import { tf, type LayersModel } from '../compute/tf.js';
import { loadTrainedModel } from '../training/trained-model.js';
import { CliUsageError } from './cli-errors.js';
import { parseChoice, parseInteger } from './cli-values.js';
import { batchOf, decodeInputs } from './image-inputs.js';

/** `effnet-tl predict` and `effnet-tl features`: JSON on stdout; exit 1 if any image failed to decode. */

export const predictUsage = `Usage: effnet-tl predict <model-dir> <image>... [--top-k 5] [--backend auto|wasm|cpu]

Prints the top-k classes of each image as JSON.`;

export const featuresUsage = `Usage: effnet-tl features <model-dir> <image>... [--normalize l2] [--backend auto|wasm|cpu]

Prints the avg_pool feature vector of each image as JSON.`;

interface InferenceArgs {
  modelDir: string;
  images: string[];
  backend: BackendPreference;
  values: Record<string, string | boolean | undefined>;
}

function parseInferenceArgs(command: string, args: string[], extra: Record<string, { type: 'string' }>): InferenceArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { backend: { type: 'string' }, ...extra },
    });
  } catch (error) {
    throw new CliUsageError((error as Error).message, command);
  }
  const [modelDir, ...images] = parsed.positionals;
  if (!modelDir) throw new CliUsageError('missing <model-dir>', command);
  if (images.length === 0) throw new CliUsageError('missing <image>: give at least one image file', command);
  const backend = parsed.values.backend ? parseChoice('backend', parsed.values.backend, backendPreferences) : 'auto';
  return { modelDir, images, backend, values: parsed.values };
}

/** Runs `model` on the decodable images; rows of the result follow `rows`. */
async function run(model: LayersModel, x: Float32Array, count: number, imageSize: number): Promise<Float32Array> {
  if (count === 0) return new Float32Array(0);
  const input = tf.tensor4d(x, [count, imageSize, imageSize, 3]);
  try {
    const output = model.predict(input) as tf.Tensor;
    try {
      return (await output.data()) as Float32Array;
    } finally {
      output.dispose();
    }
  } finally {
    input.dispose();
  }
}

export async function predictCommand(args: string[]): Promise<number> {
  const parsed = parseInferenceArgs('predict', args, { 'top-k': { type: 'string' } });
  await selectBackend(parsed.backend);
  const trained = await loadTrainedModel(parsed.modelDir);
  try {
    const { classes, imageSize } = trained.metadata;
    const topK = parsed.values['top-k'] ? parseInteger('top-k', String(parsed.values['top-k']), 1, classes.length) : 5;
    const inputs = await decodeInputs(parsed.images, imageSize);
    const { x, rows } = batchOf(inputs, imageSize);
    const probabilities = await run(trained.model, x, rows.length, imageSize);
    const k = classes.length;
    const predictions = inputs.map((input, i) => {
      const row = rows.indexOf(i);
      if (row < 0) return { image: input.image, error: input.error };
      const p = Array.from(probabilities.subarray(row * k, (row + 1) * k));
      const top = p
        .map((probability, index) => ({ class: classes[index]!, index, probability }))
        .sort((a, b) => b.probability - a.probability || a.index - b.index)
        .slice(0, Math.min(topK, k));
      return { image: input.image, top };
    });
    process.stdout.write(`${JSON.stringify({ model: parsed.modelDir, classes, predictions }, null, 2)}\n`);
    return predictions.some((p) => 'error' in p) ? 1 : 0;
  } finally {
    trained.model.dispose();
  }
}

export async function featuresCommand(args: string[]): Promise<number> {
  const parsed = parseInferenceArgs('features', args, { normalize: { type: 'string' } });
  const normalize = parsed.values.normalize
    ? parseChoice('normalize', String(parsed.values.normalize), ['l2'] as const)
    : null;
  await selectBackend(parsed.backend);
  const trained = await loadTrainedModel(parsed.modelDir);
  try {
    const { imageSize, featureDim } = trained.metadata;
    const inputs = await decodeInputs(parsed.images, imageSize);
    const { x, rows } = batchOf(inputs, imageSize);
    const features = await run(trained.features, x, rows.length, imageSize);
    const d = features.length / Math.max(1, rows.length);
    const results = inputs.map((input, i) => {
      const row = rows.indexOf(i);
      if (row < 0) return { image: input.image, error: input.error };
      let vector = Array.from(features.subarray(row * d, (row + 1) * d));
      if (normalize === 'l2') {
        const norm = Math.sqrt(vector.reduce((s, v) => s + v * v, 0));
        if (norm > 0) vector = vector.map((v) => v / norm);
      }
      return { image: input.image, vector };
    });
    process.stdout.write(`${JSON.stringify({ model: parsed.modelDir, featureDim, normalize, features: results })}\n`);
    return results.some((r) => 'error' in r) ? 1 : 0;
  } finally {
    trained.model.dispose();
  }
}
