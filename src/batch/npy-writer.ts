import { open, type FileHandle } from 'node:fs/promises';
import os from 'node:os';

/** Bytes before the data: magic, version, header length, then the header dict padded with spaces. */
const headerBytes = 128;
const magic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00]);

/**
 * The NumPy .npy v1.0 header of a C-order float32 matrix, always `headerBytes` long (64-byte aligned, as
 * NumPy writes it), so it can be rewritten in place once the real row count is known.
 */
export function npyHeader(rows: number, columns: number): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${columns}), }`;
  const room = headerBytes - magic.length - 2 - 1;
  if (dict.length > room) throw new RangeError(`npy header for shape (${rows}, ${columns}) does not fit`);
  const header = Buffer.alloc(headerBytes, 0x20);
  magic.copy(header, 0);
  header.writeUInt16LE(headerBytes - magic.length - 2, magic.length);
  header.write(dict, magic.length + 2, 'latin1');
  header[headerBytes - 1] = 0x0a;
  return header;
}

/**
 * Streams float32 rows into a .npy file: the header is written first for the rows expected, rows are
 * appended as they come (nothing is held back), and close() rewrites the header in place when fewer rows
 * arrived (images that could not be decoded). Readers get `numpy.load(file)` of shape (rows, columns).
 */
export class NpyWriter {
  private rows = 0;
  private position = headerBytes;

  private constructor(
    private readonly handle: FileHandle,
    readonly columns: number,
    private readonly expectedRows: number,
  ) {}

  static async create(file: string, columns: number, expectedRows: number): Promise<NpyWriter> {
    const handle = await open(file, 'wx', 0o644);
    try {
      await handle.write(npyHeader(expectedRows, columns), 0, headerBytes, 0);
    } catch (error) {
      await handle.close();
      throw error;
    }
    return new NpyWriter(handle, columns, expectedRows);
  }

  /** Appends `values.length / columns` rows (row-major). */
  async append(values: Float32Array): Promise<void> {
    if (values.length % this.columns !== 0) {
      throw new RangeError(`${values.length} values are not whole rows of ${this.columns}`);
    }
    const bytes = littleEndianBytes(values);
    await this.handle.write(bytes, 0, bytes.length, this.position);
    this.position += bytes.length;
    this.rows += values.length / this.columns;
  }

  /** Fixes the header's row count if it changed, syncs and closes; returns the rows written. */
  async close(): Promise<number> {
    try {
      if (this.rows !== this.expectedRows)
        await this.handle.write(npyHeader(this.rows, this.columns), 0, headerBytes, 0);
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
    return this.rows;
  }

  /** Closes without syncing, for a job that is being abandoned. */
  async abandon(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

function littleEndianBytes(values: Float32Array): Uint8Array {
  if (os.endianness() === 'LE') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new DataView(new ArrayBuffer(values.byteLength));
  values.forEach((v, i) => out.setFloat32(i * 4, v, true));
  return new Uint8Array(out.buffer);
}
