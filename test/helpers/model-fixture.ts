import fs from 'node:fs/promises';
import path from 'node:path';
import { registrationFileName } from '../../src/services/model-registry.js';
import { writeModelArtifact } from '../inference/model-artifact-fixture.js';

/**
 * Registers a small untrained B0 under DATA_DIR/models/<id>, in the layout a finished job leaves (the
 * trained-model artifact plus registration.json), so model routes can be tested without training first.
 */
export async function writeModelFixture(
  dataDir: string,
  options: { id?: string; classes?: string[]; imageSize?: number } = {},
): Promise<string> {
  const id = options.id ?? 'mdl-fixture';
  const dir = path.join(dataDir, 'models', id);
  const artifact = await writeModelArtifact(dir, {
    imageSize: options.imageSize ?? 32,
    classes: options.classes ?? ['circle', 'square', 'triangle'],
  });
  artifact.model.dispose();
  const registration = { id, jobId: 'job-fixture', datasetId: 'ds-fixture', createdAt: new Date().toISOString() };
  await fs.writeFile(path.join(dir, registrationFileName), JSON.stringify(registration));
  return id;
}
