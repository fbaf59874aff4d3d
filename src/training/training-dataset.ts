import { createHash } from 'node:crypto';
import path from 'node:path';
import type { IgnoredPath, LabeledImage } from '../data/dataset-directory.js';
import { inspectDataset, type DatasetReport } from '../data/dataset-report.js';
import { deriveSeed } from '../data/seeded-random.js';
import { stratifiedSplit } from '../data/stratified-split.js';

/**
 * The dataset as the trainer uses it: inspected (undecodable files skipped and reported, fewer than two
 * classes is a DatasetError from inspectDataset), classes in Keras' sorted order, and a validation set
 * from `val/` when the dataset has one, else a stratified seeded split of the training images.
 */

export type ValidationSource = 'val-folder' | 'stratified-split' | 'none';

export interface TrainingDataset {
  report: DatasetReport;
  classes: string[];
  train: LabeledImage[];
  val: LabeledImage[];
  validation: ValidationSource;
  /** Identifies the exact file lists and labels; a checkpoint only resumes onto the same dataset. */
  fingerprint: string;
}

/** The dataset summary metadata.json records. */
export interface DatasetSummary {
  root: string;
  layout: DatasetReport['layout'];
  /** Per class (label order): images used for training and for validation. */
  classes: Array<{ name: string; train: number; val: number }>;
  images: number;
  trainImages: number;
  valImages: number;
  validation: ValidationSource;
  skipped: IgnoredPath[];
}

export async function prepareTrainingDataset(
  datasetDir: string,
  options: { validationSplit: number; seed: number; onProgress?: (checked: number, total: number) => void },
): Promise<TrainingDataset> {
  const report = await inspectDataset(datasetDir, { onProgress: options.onProgress });
  let train: LabeledImage[];
  let val: LabeledImage[];
  let validation: ValidationSource;
  if (report.val !== undefined) {
    train = report.train;
    val = report.val;
    validation = val.length > 0 ? 'val-folder' : 'none';
  } else {
    const split = stratifiedSplit(report.train, options.validationSplit, deriveSeed(options.seed, 'validation-split'));
    train = split.train;
    val = split.val;
    validation = val.length > 0 ? 'stratified-split' : 'none';
  }
  const classes = report.classes.map((c) => c.name);
  const hash = createHash('sha256');
  hash.update(JSON.stringify(classes));
  for (const [name, items] of [
    ['train', train],
    ['val', val],
  ] as const) {
    hash.update(name);
    for (const item of items) hash.update(`${item.label}\t${path.relative(report.root, item.path)}\n`);
  }
  return { report, classes, train, val, validation, fingerprint: hash.digest('hex') };
}

export function summarizeDataset(dataset: TrainingDataset): DatasetSummary {
  return {
    root: dataset.report.root,
    layout: dataset.report.layout,
    classes: dataset.classes.map((name, label) => ({
      name,
      train: dataset.train.filter((i) => i.label === label).length,
      val: dataset.val.filter((i) => i.label === label).length,
    })),
    images: dataset.train.length + dataset.val.length,
    trainImages: dataset.train.length,
    valImages: dataset.val.length,
    validation: dataset.validation,
    skipped: dataset.report.skipped,
  };
}
