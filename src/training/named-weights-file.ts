import { readFile } from 'node:fs/promises';
import { tf, type Tensor } from '../compute/tf.js';
import { writeFileAtomic } from '../fs/atomic-file.js';
import { CheckpointCorruptError } from './training-errors.js';

/**
 * A list of named tensors in one self-describing file: "EFTW", a uint32 (LE) JSON length, the tfjs
 * weight specs as JSON, then the data tfjs' encodeWeights() produced. Order is kept, so the same file holds
 * model weights (looked up by name) and optimizer state (positional). Writes are atomic (temp + fsync +
 * rename), so a crash leaves the old file or the new one.
 */

const magic = Buffer.from('EFTW');

export interface NamedTensor {
  name: string;
  tensor: Tensor;
}

export async function writeNamedTensors(file: string, tensors: readonly NamedTensor[]): Promise<void> {
  // encodeWeights wants unique names; the index prefix makes them so and keeps the order explicit.
  const { data, specs } = await tf.io.encodeWeights(
    tensors.map((t, i) => ({ name: `${i}:${t.name}`, tensor: t.tensor })),
  );
  const header = Buffer.from(JSON.stringify(specs), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  await writeFileAtomic(file, [magic, length, header, Buffer.from(data)]);
}

/** The tensors of `file` in the order written. The caller owns (and disposes) them. */
export async function readNamedTensors(file: string): Promise<NamedTensor[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new CheckpointCorruptError(file, `cannot read it (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  if (bytes.length < 8 || !bytes.subarray(0, 4).equals(magic)) throw new CheckpointCorruptError(file, 'bad header');
  const headerLength = bytes.readUInt32LE(4);
  if (8 + headerLength > bytes.length) throw new CheckpointCorruptError(file, 'truncated header');
  let specs: tf.io.WeightsManifestEntry[];
  try {
    specs = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as tf.io.WeightsManifestEntry[];
  } catch {
    throw new CheckpointCorruptError(file, 'header is not JSON');
  }
  const expected = specs.reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  const body = bytes.subarray(8 + headerLength);
  if (body.length !== expected) {
    throw new CheckpointCorruptError(file, `expected ${expected} bytes of data, found ${body.length}`);
  }
  const buffer = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  const map = tf.io.decodeWeights(buffer, specs);
  return specs.map((spec) => ({ name: spec.name.slice(spec.name.indexOf(':') + 1), tensor: map[spec.name]! }));
}
