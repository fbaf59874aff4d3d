/**
 * Train/validation split that keeps class proportions (Keras' `validation_split` takes the last N files of a
 * global shuffle instead, which can leave small classes without validation images).
 *
 * Per class (in label order): seeded shuffle, then round(n × validationSplit) items go to val, clamped so that a
 * class with ≥2 items has at least one val item and at least one train item; a single-item class stays in train.
 * Output keeps the input order within each side, so the result depends only on the items and the seed.
 */
import { SeededRandom, deriveSeed } from './seeded-random.js';

export interface StratifiedSplit<T> {
  train: T[];
  val: T[];
}

export function stratifiedSplit<T extends { label: number }>(
  items: readonly T[],
  validationSplit: number,
  seed: number,
): StratifiedSplit<T> {
  if (!(validationSplit >= 0 && validationSplit < 1)) {
    throw new RangeError(`validationSplit must be in [0, 1), got ${validationSplit}`);
  }
  if (validationSplit === 0) return { train: [...items], val: [] };

  const byLabel = new Map<number, number[]>();
  items.forEach((item, index) => {
    const group = byLabel.get(item.label);
    if (group) group.push(index);
    else byLabel.set(item.label, [index]);
  });

  const inVal = new Uint8Array(items.length);
  for (const label of [...byLabel.keys()].sort((a, b) => a - b)) {
    const indices = byLabel.get(label)!;
    const n = indices.length;
    if (n < 2) continue;
    // One stream per class: adding a class does not reshuffle the others.
    new SeededRandom(deriveSeed(seed, 'stratified-split', label)).shuffle(indices);
    const nVal = Math.min(n - 1, Math.max(1, Math.round(n * validationSplit)));
    for (let i = 0; i < nVal; i++) inVal[indices[i]] = 1;
  }

  const train: T[] = [];
  const val: T[] = [];
  items.forEach((item, index) => (inVal[index] ? val : train).push(item));
  return { train, val };
}
