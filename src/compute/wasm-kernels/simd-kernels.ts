import {
  add,
  assign,
  buildModule,
  f32x4Add,
  f32x4Mul,
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
  v128Store,
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

const simdFunctions = (): FunctionDef[] => [
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
  const memory = backend.wasm?.asm?.memory;
  if (!(memory instanceof webAssembly.Memory)) return null;
  let kernels = instances.get(memory);
  if (kernels === undefined) {
    try {
      const module = new webAssembly.Module(buildModule(simdFunctions()));
      kernels = new webAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
    } catch {
      kernels = null;
    }
    instances.set(memory, kernels);
  }
  return kernels;
}
