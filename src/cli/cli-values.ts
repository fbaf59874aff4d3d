import { CliUsageError } from './cli-errors.js';

// Strict parsing of flag values: '12abc', '', '1e400' and friends are errors naming the flag.

export function parseInteger(flag: string, value: string, min: number, max: number): number {
  const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new CliUsageError(`--${flag} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

export function parseNumber(
  flag: string,
  value: string,
  options: { min: number; max: number; exclusiveMin?: boolean },
): number {
  const n = value.trim() === '' ? NaN : Number(value);
  const tooLow = options.exclusiveMin ? n <= options.min : n < options.min;
  if (!Number.isFinite(n) || tooLow || n > options.max) {
    const low = options.exclusiveMin ? `greater than ${options.min}` : `at least ${options.min}`;
    throw new CliUsageError(`--${flag} must be a number ${low} and at most ${options.max}, got '${value}'`);
  }
  return n;
}

export function parseChoice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new CliUsageError(`--${flag} must be one of ${choices.join(', ')}, got '${value}'`);
  }
  return value as T;
}
