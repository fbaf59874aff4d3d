import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LayersModel } from '../compute/tf.js';
import { featureExtractor } from '../model/feature-extractor.js';
import { loadLayersModel } from '../model/tfjs-file-io.js';
import { metadataFileName, metadataFormatVersion, type TrainedModelMetadata } from './trained-model-metadata.js';
import { TrainedModelFormatError } from './training-errors.js';

export interface TrainedModel {
  /**
   * The classifier: [batch, imageSize, imageSize, 3] RGB 0..255 → [batch, numClasses] probabilities; for a
   * model whose metadata lists no classes (a features-only base model), → [batch, featureDim] features.
   */
  model: LayersModel;
  /** avg_pool features, sharing the classifier's layers. Dispose `model`, never this. */
  features: LayersModel;
  metadata: TrainedModelMetadata;
}

/** Loads an artifact written by trainTwoPhase (model.json, weights, metadata.json) and checks they agree. */
export async function loadTrainedModel(artifactDir: string): Promise<TrainedModel> {
  const metadata = await readTrainedModelMetadata(artifactDir);
  const model = await loadLayersModel(artifactDir);
  try {
    const [, height, width, channels] = model.inputs[0]!.shape;
    const outputs = (model.outputs[0]!.shape as number[])[1];
    if (height !== metadata.imageSize || width !== metadata.imageSize || channels !== 3) {
      throw new TrainedModelFormatError(
        artifactDir,
        `model input is ${height}×${width}×${channels}, metadata says ${metadata.imageSize}×${metadata.imageSize}×3`,
      );
    }
    // A model without classes (an ImageNet base model built from notop weights) outputs its features.
    const expected = metadata.classes.length > 0 ? metadata.classes.length : metadata.featureDim;
    if (outputs !== expected) {
      throw new TrainedModelFormatError(
        artifactDir,
        metadata.classes.length > 0
          ? `model has ${outputs} outputs, metadata lists ${metadata.classes.length} classes`
          : `model has ${outputs} outputs, metadata says ${metadata.featureDim} features and no classes`,
      );
    }
    return { model, features: featureExtractor(model), metadata };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

export async function readTrainedModelMetadata(artifactDir: string): Promise<TrainedModelMetadata> {
  const file = path.join(artifactDir, metadataFileName);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TrainedModelFormatError(artifactDir, code === 'ENOENT' ? `no ${metadataFileName}` : String(error));
  }
  let metadata: TrainedModelMetadata;
  try {
    metadata = JSON.parse(text) as TrainedModelMetadata;
  } catch {
    throw new TrainedModelFormatError(artifactDir, `${metadataFileName} is not valid JSON`);
  }
  if (metadata?.formatVersion !== metadataFormatVersion) {
    throw new TrainedModelFormatError(
      artifactDir,
      `${metadataFileName} has formatVersion ${JSON.stringify(metadata?.formatVersion)}, expected ${metadataFormatVersion}`,
    );
  }
  if (!Array.isArray(metadata.classes) || !Number.isInteger(metadata.imageSize)) {
    throw new TrainedModelFormatError(artifactDir, `${metadataFileName} lacks classes or imageSize`);
  }
  return metadata;
}
