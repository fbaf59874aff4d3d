/**
 * A tiny WebAssembly assembler: just enough instructions (i32 arithmetic, structured loops, f32 and 128-bit
 * SIMD loads, stores and arithmetic) to write a few hot loops that work directly on tfjs-backend-wasm's heap.
 * Code is built as arrays of bytes by the helpers below; buildModule() wraps functions into a module that
 * imports its memory as env.memory. No toolchain and no binary blob to keep in sync.
 */

export type Code = number[];

function uleb(value: number): Code {
  const out: Code = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(value: number): Code {
  const out: Code = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const utf8 = (s: string): Code => {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
};
const vec = (items: Code[]): Code => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: Code): Code => [id, ...uleb(body.length), ...body];

export const i32 = 0x7f;
export const v128 = 0x7b;

// Instructions. Each returns the bytes of one instruction or of a small expression.
export const get = (local: number): Code => [0x20, ...uleb(local)];
export const set = (local: number): Code => [0x21, ...uleb(local)];
export const tee = (local: number): Code => [0x22, ...uleb(local)];
export const i32Const = (value: number): Code => [0x41, ...sleb(value)];
export const add = (a: Code, b: Code): Code => [...a, ...b, 0x6a];
export const sub = (a: Code, b: Code): Code => [...a, ...b, 0x6b];
export const mul = (a: Code, b: Code): Code => [...a, ...b, 0x6c];
export const shl = (a: Code, bits: number): Code => [...a, ...i32Const(bits), 0x74];
export const and = (a: Code, b: Code): Code => [...a, ...b, 0x71];
export const ltS = (a: Code, b: Code): Code => [...a, ...b, 0x48];
export const geS = (a: Code, b: Code): Code => [...a, ...b, 0x4e];
export const f32Load = (addr: Code, offset = 0): Code => [...addr, 0x2a, 2, ...uleb(offset)];
export const f32Store = (addr: Code, value: Code, offset = 0): Code => [...addr, ...value, 0x38, 2, ...uleb(offset)];
export const f32Add = (a: Code, b: Code): Code => [...a, ...b, 0x92];
export const f32Mul = (a: Code, b: Code): Code => [...a, ...b, 0x94];

const simd = (op: number): Code => [0xfd, ...uleb(op)];
export const v128Load = (addr: Code, offset = 0): Code => [...addr, ...simd(0x00), 2, ...uleb(offset)];
export const v128Store = (addr: Code, value: Code, offset = 0): Code => [
  ...addr,
  ...value,
  ...simd(0x0b),
  2,
  ...uleb(offset),
];
export const f32x4Add = (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe4)];
export const f32x4Sub = (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe5)];
export const f32x4Mul = (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe6)];
export const f32x4Div = (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe7)];
export const f32x4Sqrt = (a: Code): Code => [...a, ...simd(0xe3)];
/** Four copies of an f32 value. */
export const f32x4Splat = (value: number): Code => {
  const bytes = new Uint8Array(new Float32Array([value]).buffer);
  return [0x43, ...bytes, ...simd(0x13)];
};

/** `local = value`. */
export const assign = (local: number, value: Code): Code => [...value, ...set(local)];

// Structured control flow opcodes; `empty` is the block type of a block that leaves nothing on the stack.
const block = 0x02;
const loop = 0x03;
const ifThen = 0x04;
const end = 0x0b;
const br = 0x0c;
const brIf = 0x0d;
const empty = 0x40;

/** for (counter = from; counter < to; counter += step) body — `to` and `step` are re-evaluated each turn. */
export function forRange(counter: number, from: Code, to: Code, step: Code, body: Code): Code {
  const leaveBlock = [brIf, 1];
  const nextTurn = [br, 0];
  return [
    ...assign(counter, from),
    ...[block, empty, loop, empty],
    ...geS(get(counter), to),
    ...leaveBlock,
    ...body,
    ...assign(counter, add(get(counter), step)),
    ...nextTurn,
    ...[end, end],
  ];
}

/** if (condition) body. */
export const when = (condition: Code, body: Code): Code => [...condition, ifThen, empty, ...body, end];

/** low <= value < high, as an i32 0/1. */
export const inRange = (value: Code, low: Code, high: Code): Code => and(geS(value, low), ltS(value, high));

export interface FunctionDef {
  name: string;
  /** Every parameter is an i32 (sizes and byte addresses in the heap). */
  params: number;
  /** Extra locals, by type. */
  locals: { type: number; count: number }[];
  body: Code;
}

/**
 * A module importing `env.memory` and exporting each function under its name. A shared memory (the
 * threaded wasm build's) links only to an import declared shared, with a maximum: 4 GiB, wasm32's limit.
 */
export function buildModule(functions: FunctionDef[], sharedMemory = false): Uint8Array {
  const types = functions.map((f) => [0x60, ...vec(Array.from({ length: f.params }, () => [i32])), 0]);
  const limits = sharedMemory ? [0x03, 1, ...uleb(65536)] : [0x00, 1];
  const imports = [[...utf8('env'), ...utf8('memory'), 0x02, ...limits]];
  const exports = functions.map((f, i) => [...utf8(f.name), 0x00, ...uleb(i)]);
  const bodies = functions.map((f) => {
    const body = [...vec(f.locals.map((l) => [...uleb(l.count), l.type])), ...f.body, end];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}
