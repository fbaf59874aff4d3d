/** Turning model output rows into API answers: top-k labels and L2 normalisation. Pure, cheap (O(classes)). */

export interface LabelProbability {
  label: string;
  probability: number;
}

export interface Prediction extends LabelProbability {
  /** The k most probable classes, most probable first (ties: lower class index first). */
  topK: LabelProbability[];
}

export function toPrediction(probabilities: Float32Array, classes: string[], topK: number): Prediction {
  const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b]! - probabilities[a]! || a - b);
  const top = order
    .slice(0, Math.min(topK, classes.length))
    .map((i) => ({ label: classes[i]!, probability: probabilities[i]! }));
  return { label: classes[order[0]!]!, probability: probabilities[order[0]!]!, topK: top };
}

/** The vector scaled to unit Euclidean length; an all-zero vector stays zero. */
export function l2Normalized(values: Float32Array): number[] {
  let sum = 0;
  for (const v of values) sum += v * v;
  const norm = Math.sqrt(sum);
  return Array.from(values, (v) => (norm > 0 ? v / norm : 0));
}
