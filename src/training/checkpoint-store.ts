import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { LayersModel } from '../compute/tf.js';
import type { tf } from '../compute/tf.js';
import { loadModelWeights, loadOptimizerState, saveModelWeights, saveOptimizerState } from './model-weights-io.js';
import { CheckpointCorruptError } from './training-errors.js';

/**
 * The trainer's checkpoints in `workDir`:
 *
 *   workDir/checkpoint/state.json         trainer state (JSON, written by the trainer)
 *   workDir/checkpoint/model.weights      every model weight, BN moving statistics included
 *   workDir/checkpoint/optimizer.weights  Adam's iteration count, moments and beta powers
 *   workDir/best-<tag>.weights            weights of the best epoch so far (early stopping), named by state
 *
 * A checkpoint is written to a temp folder and renamed into place; the previous one is renamed aside first
 * and deleted afterwards, so a crash at any point leaves a complete checkpoint (load() falls back to the
 * set-aside one if the crash came between the two renames). Best-weights files are written before the
 * checkpoint that points at them and pruned only after it is in place.
 */

const currentName = 'checkpoint';
const stateFile = 'state.json';
const modelFile = 'model.weights';
const optimizerFile = 'optimizer.weights';
const asidePrefix = '.checkpoint.old-';
const tempPrefix = '.checkpoint.tmp-';

async function exists(target: string): Promise<boolean> {
  try {
    await stat(target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class CheckpointStore<State extends object> {
  constructor(readonly workDir: string) {}

  private get current(): string {
    return path.join(this.workDir, currentName);
  }

  bestWeightsPath(tag: string): string {
    return path.join(this.workDir, `best-${tag}.weights`);
  }

  /** The folder of the newest complete checkpoint, or undefined. */
  private async latest(): Promise<string | undefined> {
    if (await exists(path.join(this.current, stateFile))) return this.current;
    if (!(await exists(this.workDir))) return undefined;
    const aside = (await readdir(this.workDir)).filter((n) => n.startsWith(asidePrefix)).sort();
    for (const name of aside.reverse()) {
      const dir = path.join(this.workDir, name);
      if (await exists(path.join(dir, stateFile))) return dir;
    }
    return undefined;
  }

  async hasCheckpoint(): Promise<boolean> {
    return (await this.latest()) !== undefined;
  }

  async save(state: State, model: LayersModel, optimizer: tf.Optimizer, keepBest: readonly string[]): Promise<void> {
    await mkdir(this.workDir, { recursive: true });
    const temp = path.join(this.workDir, `${tempPrefix}${Date.now()}-${randomBytes(3).toString('hex')}`);
    await mkdir(temp);
    try {
      await saveModelWeights(model, path.join(temp, modelFile));
      await saveOptimizerState(optimizer, path.join(temp, optimizerFile));
      const handle = await open(path.join(temp, stateFile), 'w');
      try {
        await handle.writeFile(JSON.stringify(state));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsyncDir(temp);
    } catch (error) {
      await rm(temp, { recursive: true, force: true });
      throw error;
    }
    let aside: string | undefined;
    if (await exists(this.current)) {
      aside = path.join(this.workDir, `${asidePrefix}${Date.now()}-${randomBytes(3).toString('hex')}`);
      await rename(this.current, aside);
    }
    await rename(temp, this.current);
    await fsyncDir(this.workDir);
    if (aside) await rm(aside, { recursive: true, force: true });
    await this.prune(keepBest);
  }

  /** Removes leftovers: temp and set-aside folders, and best-weights files not in `keepBest`. */
  private async prune(keepBest: readonly string[]): Promise<void> {
    const keep = new Set(keepBest.map((tag) => path.basename(this.bestWeightsPath(tag))));
    for (const name of await readdir(this.workDir)) {
      const stale =
        name.startsWith(tempPrefix) ||
        name.startsWith(asidePrefix) ||
        (name.startsWith('best-') && name.endsWith('.weights') && !keep.has(name));
      if (stale) await rm(path.join(this.workDir, name), { recursive: true, force: true });
    }
  }

  /** Reads the newest checkpoint's state without touching the model; undefined when there is none. */
  async readState(): Promise<State | undefined> {
    const dir = await this.latest();
    if (!dir) return undefined;
    const file = path.join(dir, stateFile);
    try {
      return JSON.parse(await readFile(file, 'utf8')) as State;
    } catch (error) {
      throw new CheckpointCorruptError(file, (error as Error).message);
    }
  }

  /** Writes the newest checkpoint's weights into `model` (and optimizer state into `optimizer`, if given). */
  async restore(model: LayersModel, optimizer?: tf.Optimizer): Promise<void> {
    const dir = await this.latest();
    if (!dir) throw new CheckpointCorruptError(this.current, 'no checkpoint to restore');
    await loadModelWeights(model, path.join(dir, modelFile));
    if (optimizer) await loadOptimizerState(optimizer, path.join(dir, optimizerFile));
  }

  async saveBest(model: LayersModel, tag: string): Promise<void> {
    await mkdir(this.workDir, { recursive: true });
    await saveModelWeights(model, this.bestWeightsPath(tag));
  }

  async restoreBest(model: LayersModel, tag: string): Promise<void> {
    await loadModelWeights(model, this.bestWeightsPath(tag));
  }

  /** Deletes every checkpoint file (a fresh, non-resumed run starts from a clean workDir). */
  async clear(): Promise<void> {
    if (!(await exists(this.workDir))) return;
    for (const name of await readdir(this.workDir)) {
      if (name === currentName || name.startsWith('.checkpoint.') || /^best-.*\.weights$/.test(name)) {
        await rm(path.join(this.workDir, name), { recursive: true, force: true });
      }
    }
  }
}
