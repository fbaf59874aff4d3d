/**
 * xoshiro128** PRNG with a serialisable state, so a checkpointed trainer resumes with the exact same stream.
 * Not cryptographic: it drives shuffles, splits and augmentation.
 */

/** Four uint32 words; JSON-serialisable as-is. */
export type SeededRandomState = [number, number, number, number];

export class SeededRandomStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeededRandomStateError';
  }
}

const TWO_POW_32 = 4294967296;

/** Murmur3 finaliser: spreads every input bit over the whole word. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Splits any finite number into two uint32 words so seeds above 2^32 (e.g. Date.now()) keep their high bits. */
function numberWords(value: number): [number, number] {
  if (!Number.isFinite(value)) throw new SeededRandomStateError(`seed must be a finite number, got ${value}`);
  if (Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER) {
    const negative = value < 0 ? 1 : 0;
    const magnitude = Math.abs(value);
    return [magnitude >>> 0, (Math.floor(magnitude / TWO_POW_32) >>> 0) ^ (negative << 31)];
  }
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  return [view.getUint32(4), view.getUint32(0)];
}

/**
 * Combines a seed with stream identifiers (epoch, batch index, a purpose tag…) into one uint32 seed.
 * Lets independent streams be derived without sharing state, e.g. `deriveSeed(seed, epoch, 'shuffle')`.
 */
export function deriveSeed(...parts: Array<number | string>): number {
  let h = 0x9e3779b9;
  const absorb = (word: number): void => {
    h = fmix32((h ^ word) + 0x6a09e667);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  };
  for (const part of parts) {
    if (typeof part === 'string') {
      absorb(0x51a7 ^ part.length);
      for (let i = 0; i < part.length; i++) absorb(part.charCodeAt(i));
    } else {
      const [lo, hi] = numberWords(part);
      absorb(lo);
      absorb(hi);
    }
  }
  return fmix32(h ^ parts.length);
}

export class SeededRandom {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  constructor(seed: number) {
    // splitmix32 expansion: never yields the all-zero state xoshiro cannot leave.
    let s = deriveSeed(seed);
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1;
  }

  static fromState(state: SeededRandomState): SeededRandom {
    const rng = new SeededRandom(0);
    rng.setState(state);
    return rng;
  }

  getState(): SeededRandomState {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }

  setState(state: SeededRandomState): void {
    if (!Array.isArray(state) || state.length !== 4) {
      throw new SeededRandomStateError('RNG state must be an array of 4 uint32 words');
    }
    for (const word of state) {
      if (!Number.isInteger(word) || word < 0 || word >= TWO_POW_32) {
        throw new SeededRandomStateError(`RNG state word ${String(word)} is not a uint32`);
      }
    }
    if ((state[0] | state[1] | state[2] | state[3]) === 0) {
      throw new SeededRandomStateError('RNG state must not be all zeros');
    }
    [this.a, this.b, this.c, this.d] = state;
  }

  /** Uniform uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform float in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) {
      throw new RangeError(`int(n) needs an integer 1 <= n <= 2^32, got ${n}`);
    }
    // Reject the top partial bucket so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Fisher–Yates, in place; returns the same array. */
  shuffle<T>(array: T[]): T[] {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
