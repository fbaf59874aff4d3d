/**
 * Builds real zip/tar/tar.gz archives for tests, including hostile ones that yazl and node-tar refuse to create:
 * zip names are patched after yazl wrote placeholders of the same length, and tar headers are written by hand.
 */
import { createWriteStream } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { create as createTar } from 'tar';
import yazl from 'yazl';

export interface ZipFixtureEntry {
  /** Written verbatim into the archive, so '../x', '/etc/x', 'C:x', 'a\\b' are all possible. */
  name: string;
  data?: Buffer | string;
  directory?: boolean;
  /** Unix mode incl. type bits, e.g. 0o120777 for a symlink, 0o020644 for a character device. */
  mode?: number;
  /** Deflate (default true). */
  compress?: boolean;
}

/** yazl refuses unsafe names, so each entry gets a same-length placeholder that is swapped afterwards. */
function placeholder(index: number, length: number): string {
  const tag = `Q${index}_`;
  return (tag + 'z'.repeat(Math.max(0, length - tag.length))).slice(0, Math.max(length, tag.length));
}

export async function writeZip(file: string, entries: ZipFixtureEntry[]): Promise<void> {
  const zip = new yazl.ZipFile();
  const swaps: Array<[Buffer, Buffer]> = [];
  entries.forEach((entry, i) => {
    const target = Buffer.from(entry.directory && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name);
    const stand = placeholder(i, entry.directory ? target.length - 1 : target.length);
    const options = { mode: entry.mode, mtime: new Date(2020, 0, 1) };
    if (entry.directory) zip.addEmptyDirectory(stand, options);
    else zip.addBuffer(Buffer.from(entry.data ?? ''), stand, { ...options, compress: entry.compress ?? true });
    const written = Buffer.from(entry.directory ? `${stand}/` : stand);
    if (written.length !== target.length) throw new Error(`name too short to patch: ${entry.name}`);
    swaps.push([written, target]);
  });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  for (const [from, to] of swaps) {
    let at = bytes.indexOf(from);
    while (at !== -1) {
      to.copy(bytes, at);
      at = bytes.indexOf(from, at + to.length);
    }
  }
  await writeFile(file, bytes);
}

async function listTree(dir: string, prefix = ''): Promise<Array<{ rel: string; directory: boolean }>> {
  const out: Array<{ rel: string; directory: boolean }> = [];
  const entries = await readdir(path.join(dir, prefix), { withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    out.push({ rel, directory: entry.isDirectory() });
    if (entry.isDirectory()) out.push(...(await listTree(dir, rel)));
  }
  return out;
}

/** Zips the contents of `dir` (entries relative to it). */
export async function zipDirectory(dir: string, file: string): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const { rel, directory } of await listTree(dir)) {
    if (directory) zip.addEmptyDirectory(rel);
    else zip.addFile(path.join(dir, rel), rel);
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(file));
}

/** Tars the contents of `dir` with node-tar. */
export async function tarDirectory(dir: string, file: string, options: { gzip?: boolean } = {}): Promise<void> {
  const names = (await readdir(dir)).sort();
  await createTar({ cwd: dir, file, gzip: options.gzip ?? false, portable: true }, names);
}

export type RawTarType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'chardev' | 'blockdev' | 'fifo';

export interface RawTarEntry {
  name: string;
  type?: RawTarType;
  data?: Buffer | string;
  linkname?: string;
}

const TYPE_FLAGS: Record<RawTarType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  chardev: '3',
  blockdev: '4',
  dir: '5',
  fifo: '6',
};

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** One ustar header block, name written verbatim (≤ 100 bytes). */
export function tarHeader(entry: RawTarEntry, size: number): Buffer {
  const header = Buffer.alloc(512);
  const type = entry.type ?? 'file';
  header.write(entry.name, 0, 100, 'utf8');
  header.write(octal(type === 'dir' ? 0o755 : 0o644, 8), 100, 'latin1');
  header.write(octal(1000, 8), 108, 'latin1');
  header.write(octal(1000, 8), 116, 'latin1');
  header.write(octal(size, 12), 124, 'latin1');
  header.write(octal(1577836800, 12), 136, 'latin1');
  header.write(' '.repeat(8), 148, 'latin1');
  header.write(TYPE_FLAGS[type], 156, 'latin1');
  if (entry.linkname) header.write(entry.linkname, 157, 100, 'utf8');
  header.write('ustar\0', 257, 'latin1');
  header.write('00', 263, 'latin1');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(octal(sum, 7) + ' ', 148, 'latin1');
  return header;
}

/** A tar (optionally gzipped) built from hand-written headers, so any entry type or name can be produced. */
export async function writeRawTar(
  file: string,
  entries: RawTarEntry[],
  options: { gzip?: boolean } = {},
): Promise<void> {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.type === undefined || entry.type === 'file' ? Buffer.from(entry.data ?? '') : Buffer.alloc(0);
    blocks.push(tarHeader(entry, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  const tar = Buffer.concat(blocks);
  await writeFile(file, options.gzip ? gzipSync(tar) : tar);
}
