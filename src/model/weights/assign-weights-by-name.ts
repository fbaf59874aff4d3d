import { tf } from '../../compute/tf.js';
import type { LayersModel } from '../../compute/tf.js';
import {
  LayerMissingInFileError,
  UnknownLayerInFileError,
  WeightNamesMismatchError,
  WeightShapeMismatchError,
} from './weights-errors.js';

// Matches weights from a file (Keras .h5 or tfjs model.json) to a model by layer name and short weight
// name (`stem_conv` + `kernel`), never by position, so a file from a differently ordered graph still
// lands in the right tensors. Everything is checked before anything is written: a failed load leaves
// the model untouched.

/** One weight as a file holds it. `read` is called only once all names and shapes have been checked. */
export interface SourceWeight {
  /** Short name as Keras gives it: kernel, bias, depthwise_kernel, gamma, moving_mean, mean, count… */
  name: string;
  shape: number[];
  read(): Float32Array | Int32Array;
}

export interface SourceLayer {
  layerName: string;
  weights: SourceWeight[];
}

export interface AssignWeightsOptions {
  /** Layers to leave as they are, whether or not the file has them. */
  skipLayers?: readonly string[];
  /**
   * Classifier layers that may be absent on either side: a notop file has none, and a model built
   * without a head has none. Defaults to Keras' `predictions`.
   */
  headLayers?: readonly string[];
}

export interface WeightsLoadReport {
  file: string;
  layersLoaded: number;
  weightsLoaded: number;
  /** Layers that received nothing: skipLayers, and head layers present on one side only. */
  skipped: string[];
}

export const defaultHeadLayers: readonly string[] = ['predictions'];

type LayerVariable = tf.LayerVariable;

export interface ModelLayer {
  layerName: string;
  weights: { name: string; variable: LayerVariable }[];
}

interface PlannedWrite {
  variable: LayerVariable;
  source: SourceWeight;
}

const asFloat32 = (v: Float32Array | Int32Array): Float32Array =>
  v instanceof Float32Array ? v : Float32Array.from(v);
const asInt32 = (v: Float32Array | Int32Array): Int32Array => (v instanceof Int32Array ? v : Int32Array.from(v));

const shortName = (name: string): string => name.slice(name.lastIndexOf('/') + 1).replace(/:\d+$/, '');

/** Keras' Normalization gets an auto-generated name (normalization, normalization_3…); its weights say what it is. */
const normalizationSignature = 'count,mean,variance';
const signatureOf = (names: string[]): string => [...names].sort().join(',');

/** Every layer holding weights, nested models flattened, keyed by layer name. */
export function weightedLayersOf(model: LayersModel): Map<string, ModelLayer> {
  const found = new Map<string, ModelLayer>();
  const visit = (layers: readonly tf.layers.Layer[]): void => {
    for (const layer of layers) {
      const nested = (layer as unknown as { layers?: tf.layers.Layer[] }).layers;
      if (Array.isArray(nested)) {
        visit(nested);
        continue;
      }
      if (layer.weights.length === 0) continue;
      found.set(layer.name, {
        layerName: layer.name,
        weights: layer.weights.map((variable) => ({ name: shortName(variable.originalName), variable })),
      });
    }
  };
  visit(model.layers);
  return found;
}

/** Renames the file's normalization layer(s) to the model's when the auto-generated names differ. */
function matchNormalizationNames(sources: SourceLayer[], model: Map<string, ModelLayer>): Map<string, string> {
  const isNormalization = (names: string[]): boolean => signatureOf(names) === normalizationSignature;
  const fileOnly = sources.filter((s) => !model.has(s.layerName) && isNormalization(s.weights.map((w) => w.name)));
  const sourceNames = new Set(sources.map((s) => s.layerName));
  const modelOnly = [...model.values()].filter(
    (m) => !sourceNames.has(m.layerName) && isNormalization(m.weights.map((w) => w.name)),
  );
  const renames = new Map<string, string>();
  fileOnly.forEach((source, i) => {
    const target = modelOnly[i];
    if (target) renames.set(source.layerName, target.layerName);
  });
  return renames;
}

function planLayer(file: string, layerName: string, source: SourceLayer, target: ModelLayer): PlannedWrite[] {
  const byName = new Map(source.weights.map((w) => [w.name, w]));
  const onlyInModel = target.weights.filter((w) => !byName.has(w.name)).map((w) => w.name);
  const modelNames = new Set(target.weights.map((w) => w.name));
  const onlyInFile = source.weights.filter((w) => !modelNames.has(w.name)).map((w) => w.name);
  if (onlyInModel.length > 0 || onlyInFile.length > 0) {
    throw new WeightNamesMismatchError(file, layerName, onlyInModel, onlyInFile);
  }
  return target.weights.map(({ name, variable }) => {
    const sourceWeight = byName.get(name)!;
    const expected = variable.shape as number[];
    const same = expected.length === sourceWeight.shape.length && expected.every((d, i) => d === sourceWeight.shape[i]);
    if (!same) throw new WeightShapeMismatchError(file, layerName, name, expected, sourceWeight.shape);
    return { variable, source: sourceWeight };
  });
}

/**
 * Copies the file's weights into the model. Throws (before writing anything) when a weighted layer of
 * the model is missing in the file, the file has a weighted layer the model lacks, weight names differ,
 * or a shape differs. Head layers present on one side only are reported as skipped.
 */
export function assignWeightsByName(
  model: LayersModel,
  file: string,
  sources: SourceLayer[],
  options: AssignWeightsOptions = {},
): WeightsLoadReport {
  const skip = new Set(options.skipLayers ?? []);
  const head = new Set(options.headLayers ?? defaultHeadLayers);
  const modelLayers = weightedLayersOf(model);
  const renames = matchNormalizationNames(sources, modelLayers);
  const skipped = new Set<string>();
  const plan: PlannedWrite[] = [];
  const loadedLayers = new Set<string>();

  for (const source of sources) {
    if (source.weights.length === 0) continue;
    const layerName = renames.get(source.layerName) ?? source.layerName;
    if (skip.has(layerName) || skip.has(source.layerName)) {
      skipped.add(layerName);
      continue;
    }
    const target = modelLayers.get(layerName);
    if (!target) {
      if (head.has(layerName)) {
        skipped.add(layerName);
        continue;
      }
      throw new UnknownLayerInFileError(file, source.layerName);
    }
    plan.push(...planLayer(file, layerName, source, target));
    loadedLayers.add(layerName);
  }

  for (const layerName of modelLayers.keys()) {
    if (loadedLayers.has(layerName) || skipped.has(layerName)) continue;
    if (skip.has(layerName) || head.has(layerName)) {
      skipped.add(layerName);
      continue;
    }
    throw new LayerMissingInFileError(file, layerName);
  }

  for (const { variable, source } of plan) {
    const values = source.read();
    const typed = variable.dtype === 'int32' ? asInt32(values) : asFloat32(values);
    const tensor = tf.tensor(typed, source.shape, variable.dtype);
    variable.write(tensor);
    tensor.dispose();
  }

  return { file, layersLoaded: loadedLayers.size, weightsLoaded: plan.length, skipped: [...skipped] };
}
