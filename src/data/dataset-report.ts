/**
 * Validates a dataset folder before training: every candidate file is read and decoded once (bounded
 * concurrency); bad files are skipped with a reason instead of failing the job later, in the middle of an epoch.
 *
 * Decisions:
 * - Classes without a single valid training image are dropped (and their val images skipped), so labels are
 *   contiguous over the classes that can actually be learned. Fewer than 2 such classes is a DatasetError.
 * - Split layout: a val file whose bytes equal a train file (SHA-256) is dropped from val with reason
 *   'duplicate of train/…', since it would inflate validation accuracy. Train keeps it.
 * - Files larger than `maxFileBytes` are skipped without being read.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { scanDatasetDirectory, type DatasetLayout, type IgnoredPath, type LabeledImage } from './dataset-directory.js';
import { DatasetError } from './dataset-error.js';
import { probeImage, type ImageLimits } from './image-decode.js';

export interface InspectOptions extends ImageLimits {
  /** Files decoded at once. Default: available CPUs, at least 2. */
  concurrency?: number;
  /** Larger files are skipped unread. Default 100 MiB. */
  maxFileBytes?: number;
  /** More class folders is a DatasetError, raised before any image is decoded. Default: no limit. */
  maxClasses?: number;
  /** Called after each file is checked. */
  onProgress?: (checked: number, total: number) => void;
}

export interface ClassSummary {
  name: string;
  /** Valid training images. */
  count: number;
  /** Valid validation images (split layout only). */
  valCount?: number;
}

export interface DatasetReport {
  root: string;
  layout: DatasetLayout;
  wrapper: string | undefined;
  /** Learnable classes in label order; `train`/`val` labels index this array. */
  classes: ClassSummary[];
  /** Valid images, train + val. */
  images: number;
  train: LabeledImage[];
  /** Split layout with a val folder only. */
  val: LabeledImage[] | undefined;
  /** Everything not used, relative to root: junk, unsupported or undecodable files, duplicates. */
  skipped: IgnoredPath[];
}

export const DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024;

interface Checked {
  ok: boolean;
  reason?: string;
  hash?: string;
}

/** Runs `fn` over `items` with at most `limit` promises pending; results keep input order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function relative(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

async function checkFile(file: string, options: InspectOptions, wantHash: boolean): Promise<Checked> {
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  let bytes: Buffer;
  try {
    const info = await stat(file);
    if (info.size > maxFileBytes) {
      return { ok: false, reason: `file too large (${formatBytes(info.size)} > ${formatBytes(maxFileBytes)})` };
    }
    bytes = await readFile(file);
  } catch (err) {
    return { ok: false, reason: `cannot read file (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  const probe = await probeImage(bytes, options);
  if (!probe.ok) return { ok: false, reason: probe.reason };
  return { ok: true, hash: wantHash ? createHash('sha256').update(bytes).digest('hex') : undefined };
}

export async function inspectDataset(root: string, options: InspectOptions = {}): Promise<DatasetReport> {
  const scan = await scanDatasetDirectory(root);
  if (options.maxClasses !== undefined && scan.classes.length > options.maxClasses) {
    throw new DatasetError(
      `too many classes: ${scan.classes.length} class folders, at most ${options.maxClasses} allowed (DATASET_MAX_CLASSES)`,
    );
  }
  const skipped: IgnoredPath[] = [...scan.ignored];
  const wantHash = scan.val !== undefined;
  const all = [...scan.train, ...(scan.val ?? [])];
  const concurrency = Math.max(1, options.concurrency ?? Math.max(2, availableParallelism()));
  let checkedCount = 0;
  const checked = await mapBounded(all, concurrency, async (item) => {
    const result = await checkFile(item.path, options, wantHash);
    options.onProgress?.(++checkedCount, all.length);
    return result;
  });

  const train: LabeledImage[] = [];
  const trainByHash = new Map<string, string>();
  scan.train.forEach((item, i) => {
    const result = checked[i];
    if (!result.ok) {
      skipped.push({ path: relative(scan.root, item.path), reason: result.reason ?? 'invalid' });
      return;
    }
    train.push(item);
    if (result.hash && !trainByHash.has(result.hash)) trainByHash.set(result.hash, item.path);
  });

  let val: LabeledImage[] | undefined;
  if (scan.val) {
    const kept: LabeledImage[] = [];
    val = kept;
    scan.val.forEach((item, j) => {
      const result = checked[scan.train.length + j];
      const rel = relative(scan.root, item.path);
      const original = result.hash ? trainByHash.get(result.hash) : undefined;
      if (!result.ok) skipped.push({ path: rel, reason: result.reason ?? 'invalid' });
      else if (original) skipped.push({ path: rel, reason: `duplicate of ${relative(scan.root, original)}` });
      else kept.push(item);
    });
  }

  // Keep only classes that have training images, renumbering labels in the original (sorted) order.
  const trainCounts = new Array<number>(scan.classes.length).fill(0);
  for (const item of train) trainCounts[item.label]++;
  const newLabel = new Map<number, number>();
  const classes: ClassSummary[] = [];
  scan.classes.forEach((name, label) => {
    if (trainCounts[label] === 0) return;
    newLabel.set(label, classes.length);
    classes.push({ name, count: trainCounts[label], valCount: val ? 0 : undefined });
  });
  if (classes.length < 2) {
    const found = classes.map((c) => `'${c.name}'`).join(', ');
    throw new DatasetError(
      `needs at least 2 classes with at least one image; found ${classes.length}${found ? `: ${found}` : ''}`,
    );
  }
  const relabel = (item: LabeledImage): LabeledImage => ({ path: item.path, label: newLabel.get(item.label)! });
  const finalTrain = train.map(relabel);
  let finalVal: LabeledImage[] | undefined;
  if (val) {
    finalVal = [];
    for (const item of val) {
      const label = newLabel.get(item.label);
      if (label === undefined) {
        skipped.push({
          path: relative(scan.root, item.path),
          reason: `class '${scan.classes[item.label]}' has no valid training images`,
        });
        continue;
      }
      finalVal.push({ path: item.path, label });
      classes[label].valCount = (classes[label].valCount ?? 0) + 1;
    }
  }

  return {
    root: scan.root,
    layout: scan.layout,
    wrapper: scan.wrapper,
    classes,
    images: finalTrain.length + (finalVal?.length ?? 0),
    train: finalTrain,
    val: finalVal,
    skipped,
  };
}
