import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { tf } from '../compute/tf.js';
import { fsyncPath, writeFileAtomic } from '../fs/atomic-file.js';
import { fuseSwishActivations } from './fused-swish.js';
import type { LayersModel } from '../compute/tf.js';
import {
  assignWeightsByName,
  type AssignWeightsOptions,
  type SourceLayer,
  type WeightsLoadReport,
} from './weights/assign-weights-by-name.js';
import { InvalidWeightsFileError, WeightsDataSizeError, WeightsFileNotFoundError } from './weights/weights-errors.js';
// Custom layers must be registered before tfjs can deserialise a topology that uses them; the model
// module imports (and so registers) every custom layer the EfficientNet graph contains.
import './efficientnet.js';

// The tfjs layers format on the local file system, without tfjs-node (plain tfjs has no file://):
// a `model.json` as tensorflowjs_converter writes it (modelTopology + weightsManifest) and binary shards
// beside it. Saves are atomic: readers see the old model or the new one, never half a file.

export const modelJsonFileName = 'model.json';
export const weightsShardFileName = 'group1-shard1of1.bin';

const shardPattern = /^group\d+-shard\d+of\d+\.bin$/;

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function modelJsonOf(artifacts: tf.io.ModelArtifacts): tf.io.ModelJSON {
  const modelJson: tf.io.ModelJSON = {
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: artifacts.modelTopology!,
    weightsManifest: [{ paths: [weightsShardFileName], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.trainingConfig != null) modelJson.trainingConfig = artifacts.trainingConfig;
  if (artifacts.userDefinedMetadata != null) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
  return modelJson;
}

/**
 * Saves `model` as `<dir>/model.json` + `<dir>/group1-shard1of1.bin`. A new directory is built under a
 * temp name and renamed into place; in an existing one the shard is replaced first, then model.json.
 */
export async function saveLayersModel(model: LayersModel, dir: string): Promise<tf.io.SaveResult> {
  let captured: tf.io.ModelArtifacts | undefined;
  const result = await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  const artifacts = captured!;
  const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0)));
  const json = JSON.stringify(modelJsonOf(artifacts));

  if (await isDirectory(dir)) {
    await writeFileAtomic(path.join(dir, weightsShardFileName), weights);
    await writeFileAtomic(path.join(dir, modelJsonFileName), json);
    // Shards of an earlier, differently sharded model would otherwise linger.
    for (const name of await readdir(dir)) {
      if (shardPattern.test(name) && name !== weightsShardFileName) await rm(path.join(dir, name), { force: true });
    }
    await fsyncPath(dir);
    return result;
  }

  const parent = path.dirname(path.resolve(dir));
  await mkdir(parent, { recursive: true });
  const temp = await mkdtemp(path.join(parent, `.${path.basename(dir)}.tmp-`));
  try {
    await writeFileAtomic(path.join(temp, weightsShardFileName), weights);
    await writeFileAtomic(path.join(temp, modelJsonFileName), json);
    await fsyncPath(temp);
    await rename(temp, dir);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  await fsyncPath(parent);
  return result;
}

const bytesPerElement: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
const bytesPerQuantized: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

/** Bytes a weightsManifest entry occupies in the shards, or undefined for strings (variable length). */
function byteSizeOf(spec: tf.io.WeightsManifestEntry): number | undefined {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const per = spec.quantization ? bytesPerQuantized[spec.quantization.dtype] : bytesPerElement[spec.dtype];
  return per === undefined ? undefined : count * per;
}

/** `dir` may be the model directory or the model.json file itself. */
function modelJsonPathOf(dirOrFile: string): string {
  return dirOrFile.endsWith('.json') ? dirOrFile : path.join(dirOrFile, modelJsonFileName);
}

async function readModelJson(jsonPath: string): Promise<tf.io.ModelJSON> {
  let text: string;
  try {
    text = await readFile(jsonPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new WeightsFileNotFoundError(jsonPath, path.basename(jsonPath));
    }
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidWeightsFileError(jsonPath, `not valid JSON (${(error as Error).message})`);
  }
  const manifest = (parsed as { weightsManifest?: unknown } | null)?.weightsManifest;
  if (!Array.isArray(manifest)) throw new InvalidWeightsFileError(jsonPath, 'no weightsManifest array');
  return parsed as tf.io.ModelJSON;
}

/** Reads every shard of the manifest, in order, and checks their total size against the weight specs. */
async function readShards(
  jsonPath: string,
  manifest: tf.io.WeightsManifestConfig,
): Promise<[tf.io.WeightsManifestEntry[], ArrayBuffer[]]> {
  const dir = path.dirname(jsonPath);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  const shardNames: string[] = [];
  let actualBytes = 0;
  for (const group of manifest) {
    specs.push(...group.weights);
    for (const shard of group.paths) {
      const shardPath = path.resolve(dir, shard);
      let data: Buffer;
      try {
        data = await readFile(shardPath);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new WeightsFileNotFoundError(shardPath, path.basename(shard));
        }
        throw error;
      }
      shardNames.push(`${shard} (${data.byteLength} bytes)`);
      actualBytes += data.byteLength;
      const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
      buffers.push(
        whole
          ? (data.buffer as ArrayBuffer)
          : (data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer),
      );
    }
  }
  const sizes = specs.map(byteSizeOf);
  if (sizes.every((s) => s !== undefined)) {
    const expectedBytes = sizes.reduce((a: number, b) => a + b!, 0);
    if (expectedBytes !== actualBytes) throw new WeightsDataSizeError(jsonPath, expectedBytes, actualBytes, shardNames);
  }
  return [specs, buffers];
}

/** model.json and its shards as tfjs ModelArtifacts (weights kept as one buffer per shard). */
export async function readTfjsModelArtifacts(dirOrFile: string): Promise<tf.io.ModelArtifacts> {
  const jsonPath = modelJsonPathOf(dirOrFile);
  const modelJson = await readModelJson(jsonPath);
  return tf.io.getModelArtifactsForJSON(modelJson, (manifest) => readShards(jsonPath, manifest));
}

/** Loads a model saved by saveLayersModel (or written by tensorflowjs_converter in the layers format). */
export async function loadLayersModel(dirOrFile: string): Promise<LayersModel> {
  const jsonPath = modelJsonPathOf(dirOrFile);
  const artifacts = await readTfjsModelArtifacts(jsonPath);
  if (artifacts.modelTopology == null) throw new InvalidWeightsFileError(jsonPath, 'no modelTopology');
  return fuseSwishActivations(await tf.loadLayersModel({ load: async () => artifacts }));
}

/**
 * Copies the weights of a tfjs layers model.json into `model` by name (`<layer>/<weight>`), with the same
 * checks as the Keras .h5 import: every weighted layer must be covered, names and shapes must match.
 */
export async function loadTfjsWeightsInto(
  model: LayersModel,
  dirOrFile: string,
  options: AssignWeightsOptions = {},
): Promise<WeightsLoadReport> {
  const jsonPath = modelJsonPathOf(dirOrFile);
  const modelJson = await readModelJson(jsonPath);
  const [specs, buffers] = await readShards(jsonPath, modelJson.weightsManifest);
  const named = tf.io.decodeWeights(buffers, specs);
  try {
    const layers = new Map<string, SourceLayer>();
    for (const [name, tensor] of Object.entries(named)) {
      // `stem_conv/kernel` (or `model/stem_conv/kernel` when scoped): the layer is the second-to-last part.
      const parts = name.split('/');
      const layerName = parts.length > 1 ? parts[parts.length - 2]! : '';
      const layer = layers.get(layerName) ?? { layerName, weights: [] };
      layer.weights.push({
        name: parts[parts.length - 1]!,
        shape: tensor.shape,
        read: () => tensor.dataSync() as Float32Array | Int32Array,
      });
      layers.set(layerName, layer);
    }
    return assignWeightsByName(model, jsonPath, [...layers.values()], options);
  } finally {
    tf.dispose(Object.values(named));
  }
}
