/**
 * Identifies an uploaded archive from its bytes, not its name: a zip called `.tar` is still a zip, and anything
 * that is not zip, tar or gzip-compressed tar is refused with a reason that names what it looks like.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { ArchiveError } from './archive-error.js';

export type ArchiveFormat = 'zip' | 'tar' | 'tar.gz';

const TAR_BLOCK = 512;

const UNSUPPORTED: Array<{ magic: number[]; name: string }> = [
  { magic: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], name: '7z' },
  { magic: [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07], name: 'rar' },
  { magic: [0x42, 0x5a, 0x68], name: 'bzip2' },
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], name: 'xz' },
  { magic: [0x28, 0xb5, 0x2f, 0xfd], name: 'zstd' },
];

function startsWith(head: Buffer, magic: number[]): boolean {
  return head.length >= magic.length && magic.every((b, i) => head[i] === b);
}

/** A ustar/GNU/v7 header block: its checksum field matches the byte sum (an all-zero block ends an empty tar). */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < TAR_BLOCK) return false;
  if (block.subarray(0, TAR_BLOCK).every((b) => b === 0)) return true;
  const field = block
    .subarray(148, 156)
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return sum === parseInt(field, 8);
}

async function readHead(file: string, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** First `length` decompressed bytes of a gzip file (stops decompressing as soon as it has them). */
async function gunzipHead(file: string, length: number): Promise<Buffer> {
  const input = createReadStream(file);
  const gunzip = createGunzip();
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of gunzip) {
      chunks.push(chunk as Buffer);
      total += (chunk as Buffer).length;
      if (total >= length) break;
    }
  } catch (err) {
    throw new ArchiveError('corrupt gzip data', undefined, (err as Error).message);
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  return Buffer.concat(chunks).subarray(0, length);
}

export async function detectArchiveFormat(file: string): Promise<ArchiveFormat> {
  let head: Buffer;
  try {
    head = await readHead(file, TAR_BLOCK);
  } catch (err) {
    throw new ArchiveError(`cannot read archive (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (head.length === 0) throw new ArchiveError('archive is empty');
  // Local file header, empty archive, or spanned-archive marker.
  if (
    head.length >= 4 &&
    head[0] === 0x50 &&
    head[1] === 0x4b &&
    [0x0304, 0x0506, 0x0708].includes(head.readUInt16BE(2))
  )
    return 'zip';
  if (head[0] === 0x1f && head[1] === 0x8b) {
    if (isTarHeader(await gunzipHead(file, TAR_BLOCK))) return 'tar.gz';
    throw new ArchiveError('gzip file does not contain a tar archive');
  }
  if (isTarHeader(head)) return 'tar';
  const known = UNSUPPORTED.find((u) => startsWith(head, u.magic));
  if (known) throw new ArchiveError(`unsupported archive format (${known.name}); use zip, tar or tar.gz`);
  throw new ArchiveError('not a zip or tar archive');
}
