import path from 'node:path';
import { decodeImage } from '../data/image-decode.js';

/** Decodes image files for a model, as training decoded them; failures are kept per file, not thrown. */

export interface DecodedInput {
  image: string;
  pixels?: Float32Array;
  error?: string;
}

export async function decodeInputs(files: readonly string[], imageSize: number): Promise<DecodedInput[]> {
  return Promise.all(
    files.map(async (file) => {
      try {
        const decoded = await decodeImage(path.resolve(file), { size: imageSize });
        return { image: file, pixels: Float32Array.from(decoded.data) };
      } catch (error) {
        return { image: file, error: (error as Error).message };
      }
    }),
  );
}

/** The decoded pixels of the successful inputs as one NHWC batch, with their positions in `inputs`. */
export function batchOf(inputs: readonly DecodedInput[], imageSize: number): { x: Float32Array; rows: number[] } {
  const rows = inputs.flatMap((input, i) => (input.pixels ? [i] : []));
  const size = imageSize * imageSize * 3;
  const x = new Float32Array(rows.length * size);
  rows.forEach((i, r) => x.set(inputs[i]!.pixels!, r * size));
  return { x, rows };
}
