import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { LayersModel } from '../compute/tf.js';
import { saveLayersModel } from '../model/tfjs-file-io.js';
import { metadataFileName, type TrainedModelMetadata } from './trained-model-metadata.js';

/**
 * Writes the trained-model artifact: `model.json` + weights shard (tfjs layers format) and
 * `metadata.json`, built in a temp folder beside `outputDir` and renamed into place, so `outputDir` is
 * either absent, the previous artifact, or the complete new one. An existing `outputDir` is replaced.
 */
export async function writeArtifact(
  model: LayersModel,
  metadata: TrainedModelMetadata,
  outputDir: string,
): Promise<string> {
  const target = path.resolve(outputDir);
  const parent = path.dirname(target);
  await mkdir(parent, { recursive: true });
  const temp = await mkdtemp(path.join(parent, `.${path.basename(target)}.tmp-`));
  try {
    await saveLayersModel(model, temp);
    const handle = await open(path.join(temp, metadataFileName), 'w');
    try {
      await handle.writeFile(`${JSON.stringify(metadata, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await replaceDir(temp, target);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  await fsync(parent);
  return target;
}

async function replaceDir(source: string, target: string): Promise<void> {
  let existing = false;
  try {
    existing = (await stat(target)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (!existing) {
    await rename(source, target);
    return;
  }
  if ((await readdir(target)).length === 0) {
    await rm(target, { recursive: true });
    await rename(source, target);
    return;
  }
  const aside = `${target}.old-${randomBytes(3).toString('hex')}`;
  await rename(target, aside);
  await rename(source, target);
  await rm(aside, { recursive: true, force: true });
}

async function fsync(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
