/**
 * Validation-set metrics from predicted probabilities, in plain JS (a few thousand rows at most).
 * Conventions follow scikit-learn's classification_report: precision of a class never predicted and
 * recall of a class with no examples are 0; the confusion matrix has true classes as rows and predicted
 * classes as columns.
 */

export interface ClassMetrics {
  name: string;
  precision: number;
  recall: number;
  f1: number;
  /** Validation images of this class. */
  support: number;
}

export interface Evaluation {
  images: number;
  loss: number;
  accuracy: number;
  /** Only when there are more than 5 classes (otherwise it is always 1). */
  top5Accuracy?: number;
  perClass: ClassMetrics[];
  /** Unweighted means over classes with support. */
  macro: { precision: number; recall: number; f1: number };
  /** confusionMatrix[true][predicted]. */
  confusionMatrix: number[][];
}

const epsilon = 1e-7;

/** `probabilities` holds one row of `classes.length` values per label. */
export function evaluatePredictions(
  probabilities: Float32Array,
  labels: ArrayLike<number>,
  classes: readonly string[],
): Evaluation {
  const k = classes.length;
  const n = labels.length;
  if (probabilities.length !== n * k) {
    throw new RangeError(`evaluatePredictions: ${probabilities.length} probabilities for ${n} rows of ${k} classes`);
  }
  const confusion = classes.map(() => new Array<number>(k).fill(0));
  let lossSum = 0;
  let top5 = 0;
  for (let i = 0; i < n; i++) {
    const row = probabilities.subarray(i * k, (i + 1) * k);
    const label = labels[i]!;
    let predicted = 0;
    for (let c = 1; c < k; c++) if (row[c]! > row[predicted]!) predicted = c;
    confusion[label]![predicted]!++;
    const p = Math.min(Math.max(row[label]!, epsilon), 1 - epsilon);
    lossSum -= Math.log(p);
    // Rank of the true class: classes with a strictly higher probability come first.
    let higher = 0;
    for (let c = 0; c < k; c++) if (row[c]! > row[label]!) higher++;
    if (higher < 5) top5++;
  }
  const perClass = classes.map((name, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedCount = confusion.reduce((sum, row) => sum + row[c]!, 0);
    const precision = predictedCount === 0 ? 0 : tp / predictedCount;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { name, precision, recall, f1, support };
  });
  const supported = perClass.filter((m) => m.support > 0);
  const mean = (f: (m: ClassMetrics) => number) =>
    supported.length === 0 ? 0 : supported.reduce((s, m) => s + f(m), 0) / supported.length;
  const correct = perClass.reduce((s, _, c) => s + confusion[c]![c]!, 0);
  return {
    images: n,
    loss: n === 0 ? 0 : lossSum / n,
    accuracy: n === 0 ? 0 : correct / n,
    ...(k > 5 ? { top5Accuracy: n === 0 ? 0 : top5 / n } : {}),
    perClass,
    macro: { precision: mean((m) => m.precision), recall: mean((m) => m.recall), f1: mean((m) => m.f1) },
    confusionMatrix: confusion,
  };
}
