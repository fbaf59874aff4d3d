import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { LayersModel } from '../../compute/tf.js';
import { getArchitecture } from '../architectures.js';
import { assignWeightsByName, type WeightsLoadReport } from './assign-weights-by-name.js';
import { md5OfFile } from './file-md5.js';
import { openKerasH5 } from './keras-h5-file.js';
import { publishedWeightsByFileName, publishedWeightsFor, type PublishedWeightsFile } from './published-weights.js';
import { WeightsChecksumError, WeightsFileNotFoundError } from './weights-errors.js';

// Loads the weights keras.applications publishes (efficientnetb{N}[_notop].h5) into our tfjs model,
// by layer and weight name, after checking the file is the published one.

export interface LoadKerasH5Options {
  /** Compare the file's md5 with the expected one (default true). WEIGHTS_VERIFY=false turns it off upstream. */
  verify?: boolean;
  /** Defaults to the published hash when the file keeps its published name; otherwise nothing is compared. */
  expectedMd5?: string;
  /** Layers to leave untouched (e.g. `predictions` when the classes differ from ImageNet's). */
  skipLayers?: readonly string[];
  /** Layers that may be absent on one side (defaults to `predictions`). */
  headLayers?: readonly string[];
}

export interface KerasH5LoadReport extends WeightsLoadReport {
  /** The md5 that was checked, or undefined when verification was off or no hash was known. */
  verifiedMd5?: string;
}

async function requireFile(filePath: string, expectedFileName: string): Promise<void> {
  try {
    const info = await stat(filePath);
    if (info.isFile()) return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  throw new WeightsFileNotFoundError(filePath, expectedFileName);
}

export async function loadKerasH5Weights(
  model: LayersModel,
  filePath: string,
  options: LoadKerasH5Options = {},
): Promise<KerasH5LoadReport> {
  const fileName = path.basename(filePath);
  await requireFile(filePath, fileName);

  let verifiedMd5: string | undefined;
  const expectedMd5 = options.expectedMd5 ?? publishedWeightsByFileName(fileName)?.md5;
  if ((options.verify ?? true) && expectedMd5) {
    const actual = await md5OfFile(filePath);
    if (actual.toLowerCase() !== expectedMd5.toLowerCase()) {
      throw new WeightsChecksumError(filePath, expectedMd5.toLowerCase(), actual);
    }
    verifiedMd5 = actual;
  }

  const contents = await openKerasH5(filePath);
  try {
    const report = assignWeightsByName(model, filePath, contents.layers, {
      skipLayers: options.skipLayers,
      headLayers: options.headLayers,
    });
    return { ...report, verifiedMd5 };
  } finally {
    contents.close();
  }
}

export interface ResolvedWeightsFile extends PublishedWeightsFile {
  path: string;
}

/**
 * The published ImageNet weights file of an architecture inside WEIGHTS_DIR
 * (`efficientnetb3_notop.h5` for 'efficientnet-b3' without top). Throws WeightsFileNotFoundError,
 * naming the expected file, when it is not there, and UnknownArchitectureError for other names.
 */
export async function resolveImagenetWeightsFile(
  weightsDir: string,
  architectureName: string,
  options: { includeTop: boolean },
): Promise<ResolvedWeightsFile> {
  const published = publishedWeightsFor(getArchitecture(architectureName).name, options.includeTop)!;
  const filePath = path.join(weightsDir, published.fileName);
  await requireFile(filePath, published.fileName);
  return { ...published, path: filePath };
}
