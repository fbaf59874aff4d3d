import type { PredictFormat } from './tf-serving-request.js';

/**
 * The answer of `:predict`: `{"predictions": [...]}` to a row-format request, `{"outputs": [...]}` to a columnar
 * one. A signature of ours has one output, so, as TF Serving does for one named output tensor, the name is
 * omitted and each row is the output's vector for that instance. Values are float32 printed as TF Serving
 * prints them: the shortest decimal that reads back as the same float32 (0.1, not 0.10000000149011612).
 */
export function predictResponse(format: PredictFormat, rows: ArrayLike<number>[]) {
  const values = rows.map((row) => Array.from(row, float32Number));
  return format === 'row' ? { predictions: values } : { outputs: values };
}

/** The shortest decimal number that rounds to the same float32 as `value`. */
export function float32Number(value: number): number {
  const target = Math.fround(value);
  if (!Number.isFinite(target) || target === 0) return target;
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(target.toPrecision(digits));
    if (Math.fround(candidate) === target) return candidate;
  }
  return Number(target.toPrecision(9));
}
