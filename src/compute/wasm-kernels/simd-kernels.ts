import {
  add,
  assign,
  buildModule,
  f32x4Add,
  f32x4Div,
  f32x4Mul,
  f32x4Splat,
  f32x4Sqrt,
  f32x4Sub,
  forRange,
  get,
  i32,
  i32Const,
  inRange,
  mul,
  shl,
  sub,
  v128Load,
  v128,
  v128Store,
  tee,
  when,
  type Code,
  type FunctionDef,
} from './wasm-assembler.js';
import type { WasmBackend } from './wasm-backend-access.js';

/**
 * Hot loops that have no XNNPACK equivalent, as 128-bit SIMD WebAssembly sharing tfjs-backend-wasm's heap
 * (its module exports its memory; ours imports it), so they read and write tensors in place.
 */
export interface SimdKernels {
  /** dst[c] += sum over r < rows of src[r*inner + c]: byte addresses, innerBytes a multiple of 16. */
  columnSums(src: number, dst: number, rows: number, innerBytes: number): void;
  /** dst[r, c] = (src[r, c] - shift[c]) * scale[c] + offset[c]: byte addresses, channelBytes a multiple of 16. */
  channelAffine(
    src: number,
    dst: number,
    rows: number,
    channelBytes: number,
    shift: number,
    scale: number,
    offset: number,
  ): void;
  /**
   * acc[kh, kw, c] += sum over (oh, ow) of x[oh*sh + kh - padTop, ow*sw + kw - padLeft, c] * dy[oh, ow, c]
   * for one image. Byte addresses; channels must be a multiple of 4.
   */
  depthwiseFilterGradImage(
    x: number,
    dy: number,
    acc: number,
    inHeight: number,
    inWidth: number,
    channels: number,
    outHeight: number,
    outWidth: number,
    filterHeight: number,
    filterWidth: number,
    strideHeight: number,
    strideWidth: number,
    padTop: number,
    padLeft: number,
  ): void;
  /**
   * dx[oh*sh + kh - padTop, ow*sw + kw - padLeft, c] += dy[oh, ow, c] * filter[kh, kw, c] for one image
   * (dx must start zeroed). Same argument order as depthwiseFilterGradImage, with dx for x and filter for acc.
   */
  depthwiseInputGradImage(
    dx: number,
    dy: number,
    filter: number,
    inHeight: number,
    inWidth: number,
    channels: number,
    outHeight: number,
    outWidth: number,
    filterHeight: number,
    filterWidth: number,
    strideHeight: number,
    strideWidth: number,
    padTop: number,
    padLeft: number,
  ): void;
  /**
   * One Adam step over `bytes` bytes (a multiple of 16) of float32 weights, in tfjs' AdamOptimizer's order of
   * float32 operations: m = m*b1 + g*(1-b1); v = v*b2 + (g*g)*(1-b2); out = (m/c1) / (sqrt(v/c2) + eps) * -lr
   * + w. m and v are updated in place; `out` may equal `w`. `constants` holds 8 four-lane vectors:
   * b1, 1-b1, b2, 1-b2, c1 = 1-b1^t, c2 = 1-b2^t, eps, -lr.
   */
  adamUpdate(w: number, out: number, m: number, v: number, g: number, bytes: number, constants: number): void;
  /** dst[c] += sum over r < rows of (src[r, c] - shift[c])^2: byte addresses, channelBytes a multiple of 16. */
  columnSquaredDeviationSums(src: number, shift: number, dst: number, rows: number, channelBytes: number): void;
  /**
   * sumDy[c] += sum over r of dy[r, c] and sumDyXc[c] += sum over r of dy[r, c] * (x[r, c] - shift[c]), the
   * column sums of BatchNormalization's backward pass.
   */
  batchNormGradSums(
    dy: number,
    x: number,
    shift: number,
    sumDy: number,
    sumDyXc: number,
    rows: number,
    channelBytes: number,
  ): void;
  /**
   * dx[r, c] = dy[r, c] * a[c] + (x[r, c] - shift[c]) * b[c] + offset[c], with `vectors` holding shift, a, b
   * and offset one after another (channelBytes each).
   */
  batchNormInputGrad(dy: number, x: number, dx: number, rows: number, channelBytes: number, vectors: number): void;
  /** s = s * x over `bytes` bytes (a multiple of 16): swish from its sigmoid, in place. */
  swishFromSigmoid(s: number, x: number, bytes: number): void;
  /** s = dy * (s * (1 + x * (1 - s))): swish's gradient from the sigmoid of x, in place. */
  swishGradFromSigmoid(s: number, x: number, dy: number, bytes: number): void;
}

/**
 * The loop nest shared by both depthwise gradients, for one image: every (output pixel, filter tap) pair
 * whose input pixel lies inside the image, with an inner SIMD loop over the channels. `inner` gets the
 * locals holding the input pixel's, the dy pixel's and the tap's byte addresses and the channel byte offset.
 */
function depthwiseTapLoop(
  name: string,
  inner: (inputPixel: number, dyPixel: number, tap: number, byte: number) => Code,
): FunctionDef {
  // Parameters: input, dy and taps are byte addresses.
  const [input, dy, taps, inH, inW, ch, outH, outW, kH, kW, sH, sW, padT, padL] = Array.from(
    { length: 14 },
    (_, i) => i,
  );
  // Locals.
  const [oh, kh, h, inputRow, ow, dyPixel, kw, w, inputPixel, tap, byte, channelBytes, rowBytes] = Array.from(
    { length: 13 },
    (_, i) => 14 + i,
  );
  const overChannels = forRange(
    byte,
    i32Const(0),
    get(channelBytes),
    i32Const(16),
    inner(inputPixel, dyPixel, tap, byte),
  );
  const overFilterColumns = forRange(kw, i32Const(0), get(kW), i32Const(1), [
    ...assign(w, sub(add(mul(get(ow), get(sW)), get(kw)), get(padL))),
    ...when(inRange(get(w), i32Const(0), get(inW)), [
      ...assign(inputPixel, add(get(inputRow), mul(get(w), get(channelBytes)))),
      ...assign(tap, add(get(taps), mul(add(mul(get(kh), get(kW)), get(kw)), get(channelBytes)))),
      ...overChannels,
    ]),
  ]);
  const overOutputColumns = forRange(ow, i32Const(0), get(outW), i32Const(1), [
    ...assign(dyPixel, add(get(dy), mul(add(mul(get(oh), get(outW)), get(ow)), get(channelBytes)))),
    ...overFilterColumns,
  ]);
  const body = [
    ...assign(channelBytes, shl(get(ch), 2)),
    ...assign(rowBytes, mul(get(inW), get(channelBytes))),
    ...forRange(
      oh,
      i32Const(0),
      get(outH),
      i32Const(1),
      forRange(kh, i32Const(0), get(kH), i32Const(1), [
        ...assign(h, sub(add(mul(get(oh), get(sH)), get(kh)), get(padT))),
        ...when(inRange(get(h), i32Const(0), get(inH)), [
          ...assign(inputRow, add(get(input), mul(get(h), get(rowBytes)))),
          ...overOutputColumns,
        ]),
      ]),
    ),
  ];
  return { name, params: 14, locals: [{ type: i32, count: 13 }], body };
}

/** target[byte..byte+16) += a[byte..] * b[byte..], four floats at a time. */
const multiplyAccumulate = (target: number, a: number, b: number, byte: number): Code =>
  v128Store(
    add(get(target), get(byte)),
    f32x4Add(
      v128Load(add(get(target), get(byte))),
      f32x4Mul(v128Load(add(get(a), get(byte))), v128Load(add(get(b), get(byte)))),
    ),
  );

/** dst[c] += sum over r < rows of src[r*inner + c], for inner (a multiple of 4) floats per row. */
function columnSums(): FunctionDef {
  const [src, dst, rows, innerBytes] = [0, 1, 2, 3];
  const [row, rowStart, byte] = [4, 5, 6];
  const body = forRange(row, i32Const(0), get(rows), i32Const(1), [
    ...assign(rowStart, add(get(src), mul(get(row), get(innerBytes)))),
    ...forRange(
      byte,
      i32Const(0),
      get(innerBytes),
      i32Const(16),
      v128Store(
        add(get(dst), get(byte)),
        f32x4Add(v128Load(add(get(dst), get(byte))), v128Load(add(get(rowStart), get(byte)))),
      ),
    ),
  ]);
  return { name: 'columnSums', params: 4, locals: [{ type: i32, count: 3 }], body };
}

/** dst[r, c] = (src[r, c] - shift[c]) * scale[c] + offset[c] for `rows` rows of channels (a multiple of 4). */
function channelAffine(): FunctionDef {
  const [src, dst, rows, channelBytes, shift, scale, offset] = [0, 1, 2, 3, 4, 5, 6];
  const [rowOffset, byte, total] = [7, 8, 9];
  const at = (base: number) => add(get(base), get(byte));
  const rowAt = (base: number) => add(add(get(base), get(rowOffset)), get(byte));
  const body = [
    ...assign(total, mul(get(rows), get(channelBytes))),
    ...forRange(
      rowOffset,
      i32Const(0),
      get(total),
      get(channelBytes),
      forRange(
        byte,
        i32Const(0),
        get(channelBytes),
        i32Const(16),
        v128Store(
          rowAt(dst),
          f32x4Add(
            f32x4Mul(f32x4Sub(v128Load(rowAt(src)), v128Load(at(shift))), v128Load(at(scale))),
            v128Load(at(offset)),
          ),
        ),
      ),
    ),
  ];
  return { name: 'channelAffine', params: 7, locals: [{ type: i32, count: 3 }], body };
}

/** See SimdKernels.adamUpdate: the constants are loaded into v128 locals once, before the loop. */
function adamUpdate(): FunctionDef {
  const [w, out, m, v, g, bytes, constants] = [0, 1, 2, 3, 4, 5, 6];
  const byte = 7;
  const [b1, oneMinusB1, b2, oneMinusB2, c1, c2, eps, negLr, grad, mNew, vNew] = Array.from(
    { length: 11 },
    (_, i) => 8 + i,
  );
  const at = (base: number) => add(get(base), get(byte));
  const loadConstants = [b1, oneMinusB1, b2, oneMinusB2, c1, c2, eps, negLr].flatMap((local, i) =>
    assign(local, v128Load(add(get(constants), i32Const(16 * i)))),
  );
  const step = [
    ...assign(grad, v128Load(at(g))),
    ...v128Store(at(m), [
      ...f32x4Add(f32x4Mul(v128Load(at(m)), get(b1)), f32x4Mul(get(grad), get(oneMinusB1))),
      ...tee(mNew),
    ]),
    ...v128Store(at(v), [
      ...f32x4Add(f32x4Mul(v128Load(at(v)), get(b2)), f32x4Mul(f32x4Mul(get(grad), get(grad)), get(oneMinusB2))),
      ...tee(vNew),
    ]),
    ...v128Store(
      at(out),
      f32x4Add(
        f32x4Mul(
          f32x4Div(f32x4Div(get(mNew), get(c1)), f32x4Add(f32x4Sqrt(f32x4Div(get(vNew), get(c2))), get(eps))),
          get(negLr),
        ),
        v128Load(at(w)),
      ),
    ),
  ];
  const body = [...loadConstants, ...forRange(byte, i32Const(0), get(bytes), i32Const(16), step)];
  return {
    name: 'adamUpdate',
    params: 7,
    locals: [
      { type: i32, count: 1 },
      { type: v128, count: 11 },
    ],
    body,
  };
}

const one = f32x4Splat(1);

/** An element-wise loop over `bytes` bytes: params are byte addresses, then the byte count. */
function elementwise(name: string, params: number, store: (at: (param: number) => Code) => Code): FunctionDef {
  const bytes = params - 1;
  const byte = params;
  const at = (param: number) => add(get(param), get(byte));
  return {
    name,
    params,
    locals: [{ type: i32, count: 1 }],
    body: forRange(byte, i32Const(0), get(bytes), i32Const(16), store(at)),
  };
}

// XNNPACK's sigmoid (a tuned polynomial) plus one of these passes beat a one-pass swish with exp written
// here (49 vs 56 ms for B0's 49 swish activations at 224 px).

/** s = s * x */
const swishFromSigmoid = () =>
  elementwise('swishFromSigmoid', 3, (at) => v128Store(at(0), f32x4Mul(v128Load(at(0)), v128Load(at(1)))));

/** s = dy * (s * (1 + x * (1 - s))) */
const swishGradFromSigmoid = () =>
  elementwise('swishGradFromSigmoid', 4, (at) =>
    v128Store(
      at(0),
      f32x4Mul(
        v128Load(at(2)),
        f32x4Mul(v128Load(at(0)), f32x4Add(one, f32x4Mul(v128Load(at(1)), f32x4Sub(one, v128Load(at(0)))))),
      ),
    ),
  );

/**
 * for every row, for every 16 bytes of its channels: `inner(rowAt, at)` with rowAt(p) the address in a
 * [rows, channels] tensor at param p and at(p) the address in a channel vector at param p.
 */
function overRowsAndChannels(
  name: string,
  params: number,
  rows: number,
  channelBytes: number,
  inner: (rowAt: (param: number) => Code, at: (param: number) => Code) => Code,
): FunctionDef {
  const [rowOffset, byte, total] = [params, params + 1, params + 2];
  const at = (base: number) => add(get(base), get(byte));
  const rowAt = (base: number) => add(add(get(base), get(rowOffset)), get(byte));
  const body = [
    ...assign(total, mul(get(rows), get(channelBytes))),
    ...forRange(
      rowOffset,
      i32Const(0),
      get(total),
      get(channelBytes),
      forRange(byte, i32Const(0), get(channelBytes), i32Const(16), inner(rowAt, at)),
    ),
  ];
  return { name, params, locals: [{ type: i32, count: 3 }], body };
}

/** dst[c] += (src[r, c] - shift[c])^2 */
function columnSquaredDeviationSums(): FunctionDef {
  const [src, shift, dst, rows, channelBytes] = [0, 1, 2, 3, 4];
  return overRowsAndChannels('columnSquaredDeviationSums', 5, rows, channelBytes, (rowAt, at) => {
    const deviation = f32x4Sub(v128Load(rowAt(src)), v128Load(at(shift)));
    // (x - shift) is computed twice (the loads hit the cache) so the shared loop helper needs no v128 local.
    return v128Store(at(dst), f32x4Add(v128Load(at(dst)), f32x4Mul(deviation, deviation)));
  });
}

/** sumDy[c] += dy[r, c]; sumDyXc[c] += dy[r, c] * (x[r, c] - shift[c]) */
function batchNormGradSums(): FunctionDef {
  const [dy, x, shift, sumDy, sumDyXc, rows, channelBytes] = [0, 1, 2, 3, 4, 5, 6];
  return overRowsAndChannels('batchNormGradSums', 7, rows, channelBytes, (rowAt, at) => [
    ...v128Store(at(sumDy), f32x4Add(v128Load(at(sumDy)), v128Load(rowAt(dy)))),
    ...v128Store(
      at(sumDyXc),
      f32x4Add(v128Load(at(sumDyXc)), f32x4Mul(v128Load(rowAt(dy)), f32x4Sub(v128Load(rowAt(x)), v128Load(at(shift))))),
    ),
  ]);
}

/** dx[r, c] = dy[r, c] * a[c] + (x[r, c] - shift[c]) * b[c] + offset[c] */
function batchNormInputGrad(): FunctionDef {
  const [dy, x, dx, rows, channelBytes, vectors] = [0, 1, 2, 3, 4, 5];
  // The four channel vectors lie back to back from `vectors`: shift, a, b, offset. `vectors` is advanced by
  // the byte offset like any vector param; the k-th vector is k * channelBytes further on.
  return overRowsAndChannels('batchNormInputGrad', 6, rows, channelBytes, (rowAt, at) => {
    const vector = (k: number) => v128Load(add(at(vectors), mul(get(channelBytes), i32Const(k))));
    return v128Store(
      rowAt(dx),
      f32x4Add(
        f32x4Add(
          f32x4Mul(v128Load(rowAt(dy)), vector(1)),
          f32x4Mul(f32x4Sub(v128Load(rowAt(x)), vector(0)), vector(2)),
        ),
        vector(3),
      ),
    );
  });
}

const simdFunctions = (): FunctionDef[] => [
  adamUpdate(),
  columnSquaredDeviationSums(),
  batchNormGradSums(),
  batchNormInputGrad(),
  swishFromSigmoid(),
  swishGradFromSigmoid(),
  columnSums(),
  channelAffine(),
  // acc[tap] += x[input pixel] * dy[output pixel]
  depthwiseTapLoop('depthwiseFilterGradImage', (x, dy, acc, byte) => multiplyAccumulate(acc, x, dy, byte)),
  // dx[input pixel] += dy[output pixel] * filter[tap]
  depthwiseTapLoop('depthwiseInputGradImage', (dx, dy, filter, byte) => multiplyAccumulate(dx, dy, filter, byte)),
];

// The project's TypeScript lib has no WebAssembly declarations; Node has the global.
interface WebAssemblyApi {
  Memory: abstract new (...args: never[]) => object;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

const instances = new WeakMap<object, SimdKernels | null>();

/** The kernels bound to this backend's heap, or null when its memory is not reachable or SIMD is unsupported. */
export function simdKernelsFor(backend: WasmBackend): SimdKernels | null {
  // The threaded build imports its memory (shared) instead of exporting it.
  const memory = backend.wasm?.asm?.memory ?? backend.wasm?.wasmMemory;
  if (!(memory instanceof webAssembly.Memory)) return null;
  const shared = (memory as { buffer?: unknown }).buffer instanceof SharedArrayBuffer;
  let kernels = instances.get(memory);
  if (kernels === undefined) {
    try {
      const module = new webAssembly.Module(buildModule(simdFunctions(), shared));
      kernels = new webAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
    } catch {
      kernels = null;
    }
    instances.set(memory, kernels);
  }
  return kernels;
}
