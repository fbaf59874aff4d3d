/**
 * Hostile inputs that no encoder writes on purpose, built by hand in a few milliseconds: a 2 GiB-of-zeros zip
 * bomb of about 2 MB, and a PNG whose header claims more pixels than any limit allows.
 */
import { crc32, constants, deflateRawSync, deflateSync } from 'node:zlib';
import { tarHeader } from '../data/archive-fixtures.js';

const MiB = 1024 ** 2;

/** Raw deflate of `data` ending with a full flush: byte-aligned, history reset, so more blocks can follow. */
function deflateBlock(data: Buffer): Buffer {
  return deflateRawSync(data, { level: 9, finishFlush: constants.Z_FULL_FLUSH });
}

const finalEmptyBlock = Buffer.from([0x03, 0x00]);

/**
 * A raw deflate stream that inflates to `mebibytes` MiB of zeros. Deflating 1 MiB of zeros with a full flush
 * ends on a byte boundary with an empty history, so the same ~1 KiB block can be repeated; an empty final
 * block closes the stream. Nothing near the inflated size is ever held in memory or compressed.
 */
export function deflatedZeros(mebibytes: number): Buffer {
  const block = deflateBlock(Buffer.alloc(MiB));
  return Buffer.concat([...Array.from({ length: mebibytes }, () => block), finalEmptyBlock]);
}

/**
 * A one-entry zip whose entry inflates to `mebibytes` MiB of zeros. `declaredBytes` is what its headers claim
 * the entry inflates to (default: the truth); a lying, smaller value is the sneaky kind of bomb. The CRC is left
 * 0: extraction must stop long before the end, where a CRC could be checked.
 */
export function zipBomb(mebibytes: number, options: { name?: string; declaredBytes?: number } = {}): Buffer {
  const name = Buffer.from(options.name ?? 'cats/zeros.png');
  const data = deflatedZeros(mebibytes);
  const declared = options.declaredBytes ?? mebibytes * MiB;
  if (declared > 0xffffffff) throw new RangeError('zipBomb: no zip64, so at most 4 GiB - 1 declared');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4); // version needed
  local.writeUInt16LE(0, 6); // flags
  local.writeUInt16LE(8, 8); // deflate
  local.writeUInt32LE(0, 14); // crc
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(declared, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(0x0314, 4); // made by: unix, 2.0
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(declared, 24);
  central.writeUInt16LE(name.length, 28);
  central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // regular file
  central.writeUInt32LE(0, 42); // local header offset
  const centralOffset = local.length + name.length + data.length;
  const centralSize = central.length + name.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, name, data, central, name, end]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([length, body, crc]);
}

/** A valid-looking 8-bit RGB PNG header claiming width×height, followed by a tiny IDAT (a pixel flood). */
export function pngClaiming(width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A tar.gz holding one honest tar entry of `mebibytes` MiB of zeros, built like deflatedZeros. The gzip trailer's
 * CRC is left 0: it is checked only at the very end, which extraction must never reach.
 */
export function tarGzBomb(mebibytes: number, name = 'cats/zeros.png'): Buffer {
  const header = tarHeader({ name }, mebibytes * MiB);
  const zeros = deflateBlock(Buffer.alloc(MiB));
  // After the header: the entry's zeros, then two zero blocks that end the tar.
  const body = [deflateBlock(Buffer.concat([header, Buffer.alloc(MiB - 512)]))];
  for (let i = 1; i < mebibytes; i++) body.push(zeros);
  body.push(deflateBlock(Buffer.alloc(512 + 1024)), finalEmptyBlock);
  const gzipHeader = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE((512 + mebibytes * MiB + 1024) % 2 ** 32, 4);
  return Buffer.concat([gzipHeader, ...body, trailer]);
}
