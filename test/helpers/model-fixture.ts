import fs from 'node:fs/promises';
import path from 'node:path';
import { tf } from '../../src/compute/tf.js';
import { buildEfficientNet } from '../../src/model/efficientnet.js';
import { saveLayersModel } from '../../src/model/tfjs-file-io.js';
import { registrationFileName } from '../../src/services/model-registry.js';

/**
 * Registers a small untrained B0 under DATA_DIR/models/<id>, in the layout a finished job leaves, so
 * inference routes can be tested without training first. Only the metadata fields the registry and the
 * inference engine read are filled.
 */
export async function writeModelFixture(
  dataDir: string,
  options: { id?: string; classes?: string[]; imageSize?: number } = {},
): Promise<string> {
  const id = options.id ?? 'mdl-fixture';
  const classes = options.classes ?? ['circle', 'square', 'triangle'];
  const imageSize = options.imageSize ?? 32;
  const dir = path.join(dataDir, 'models', id);
  const model = buildEfficientNet({ architecture: 'efficientnet-b0', imageSize, numClasses: classes.length, seed: 1 });
  try {
    await saveLayersModel(model, dir);
  } finally {
    model.dispose();
  }
  const metadata = {
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    classes,
    architecture: 'efficientnet-b0',
    imageSize,
    numClasses: classes.length,
    featureLayer: 'avg_pool',
    featureDim: 1280,
    evaluation: null,
    backend: tf.getBackend(),
  };
  await fs.writeFile(path.join(dir, 'metadata.json'), JSON.stringify(metadata));
  await fs.writeFile(
    path.join(dir, registrationFileName),
    JSON.stringify({ id, jobId: 'job-fixture', datasetId: 'ds-fixture', createdAt: metadata.createdAt }),
  );
  return id;
}
