import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fsyncPath, writeFileAtomic } from '../fs/atomic-file.js';
import { exportToOnnx } from '../onnx/onnx-exporter.js';
import { metadataFileName, metadataFormatVersion, preprocessing } from '../training/trained-model-metadata.js';
import type { TrainedModelMetadata } from '../training/trained-model-metadata.js';
import type { ArchitectureName } from './architectures.js';
import { getArchitecture } from './architectures.js';
import { buildEfficientNet } from './efficientnet.js';
import { featureExtractor } from './feature-extractor.js';
import { imagenetClassNames } from './imagenet-classes.js';
import { saveLayersModel } from './tfjs-file-io.js';
import { loadKerasH5Weights } from './weights/keras-h5-weights.js';

/**
 * Turns Keras' ImageNet weights into an ordinary model artifact (model.json + shard, metadata.json,
 * model.onnx, registration.json), so the inference pool, the artifact download and batch jobs serve a base
 * model exactly like a trained one. With the with-top file the model is Keras' full classifier (avg_pool,
 * top_dropout, `predictions` over the 1000 ImageNet classes); with only the notop file it is the base with
 * Keras' pooling='avg', whose one output is the `avg_pool` features and whose metadata lists no classes.
 * Runs TensorFlow, so it belongs in a short-lived child process, never on the api's event loop.
 */

export interface BaseModelWeightsFile {
  path: string;
  fileName: string;
  includeTop: boolean;
  size: number;
  mtimeMs: number;
}

export interface BaseModelSpec {
  id: string;
  architecture: ArchitectureName;
  imageSize: number;
  /** The with-top file when WEIGHTS_DIR has one (it gives /predict), else the notop file. */
  weights: BaseModelWeightsFile;
  /** Check the file against Keras' published md5 (WEIGHTS_VERIFY). */
  verify: boolean;
  /** Identifies the weights file version and the build options; a different one rematerializes. */
  fingerprint: string;
  /** When the weights file was last changed: the model's createdAt. */
  createdAt: string;
}

/** registration.json of a base model: what ModelRegistry reads, plus the fingerprint it was built from. */
export interface BaseModelRegistration {
  id: string;
  source: 'base';
  jobId: null;
  datasetId: null;
  createdAt: string;
  fingerprint: string;
  weightsFile: string;
}

/** metadata.json of a base model: the fields of a trained artifact's metadata that describe a model. */
export type BaseModelMetadata = Pick<
  TrainedModelMetadata,
  | 'formatVersion'
  | 'createdAt'
  | 'classes'
  | 'architecture'
  | 'imageSize'
  | 'numClasses'
  | 'featureLayer'
  | 'featureDim'
  | 'preprocessing'
  | 'weights'
  | 'evaluation'
  | 'backend'
> & { source: 'base' };

export const baseRegistrationFileName = 'registration.json';

/** Writes the artifact of `spec` into `outputDir` in one rename (replacing an older one); returns its size. */
export async function writeBaseModelArtifact(
  spec: BaseModelSpec,
  outputDir: string,
  backend: string,
): Promise<{ bytes: number; onnxBytes: number }> {
  const arch = getArchitecture(spec.architecture);
  const base = buildEfficientNet({
    architecture: arch,
    imageSize: spec.imageSize,
    includeHead: spec.weights.includeTop,
    numClasses: 1000,
  });
  const model = spec.weights.includeTop ? base : featureExtractor(base);
  const target = path.resolve(outputDir);
  await mkdir(path.dirname(target), { recursive: true });
  const temp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const report = await loadKerasH5Weights(base, spec.weights.path, { verify: spec.verify });
    if (spec.weights.includeTop && report.skipped.includes('predictions')) {
      throw new Error(`${spec.weights.fileName} holds no 'predictions' layer, so it is not a with-top file`);
    }
    await mkdir(temp, { recursive: true });
    const saved = await saveLayersModel(model, temp);
    const onnx = exportToOnnx(model, { opset: 13, outputs: spec.weights.includeTop ? 'classifier' : 'features-only' });
    await writeFileAtomic(path.join(temp, 'model.onnx'), onnx);
    const classes = spec.weights.includeTop ? imagenetClassNames() : [];
    const metadata: BaseModelMetadata = {
      formatVersion: metadataFormatVersion,
      createdAt: spec.createdAt,
      source: 'base',
      classes,
      architecture: arch.name,
      imageSize: spec.imageSize,
      numClasses: classes.length,
      featureLayer: 'avg_pool',
      featureDim: arch.featureDim,
      preprocessing,
      weights: { source: 'imagenet', file: spec.weights.fileName, md5: report.verifiedMd5 },
      evaluation: null,
      backend,
    };
    await writeFileAtomic(path.join(temp, metadataFileName), `${JSON.stringify(metadata, null, 2)}\n`);
    const registration: BaseModelRegistration = {
      id: spec.id,
      source: 'base',
      jobId: null,
      datasetId: null,
      createdAt: spec.createdAt,
      fingerprint: spec.fingerprint,
      weightsFile: spec.weights.fileName,
    };
    await writeFileAtomic(path.join(temp, baseRegistrationFileName), `${JSON.stringify(registration, null, 2)}\n`);
    await replaceDirectory(temp, target);
    return { bytes: saved.modelArtifactsInfo.weightDataBytes ?? 0, onnxBytes: onnx.byteLength };
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  } finally {
    base.dispose();
  }
}

/** Renames `source` to `target`, moving an existing `target` aside first (readers never see a half one). */
async function replaceDirectory(source: string, target: string): Promise<void> {
  const exists = await stat(target).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
  if (!exists) {
    await rename(source, target);
  } else {
    const aside = `${target}.old-${randomBytes(4).toString('hex')}`;
    await rename(target, aside);
    await rename(source, target);
    await rm(aside, { recursive: true, force: true });
  }
  await fsyncPath(path.dirname(target));
}
