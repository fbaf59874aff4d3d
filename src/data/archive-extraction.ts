/**
 * Extracts an uploaded dataset archive (zip, tar, tar.gz; detected by content) into an empty folder, refusing
 * anything that could write outside it or exhaust the disk. On any refusal the archive is rejected as a whole
 * with an ArchiveError and everything written so far is removed.
 *
 * Refused: `..` segments, absolute paths, Windows drive letters and backslashes, NUL bytes, symbolic and hard
 * links, devices/FIFOs/sockets, encrypted zip entries, duplicate entries, more than `maxEntries` entries, more
 * than `maxTotalBytes` (or `maxEntryBytes` for one file) actually written, and a written/archive size ratio above
 * `maxCompressionRatio` once `ratioGraceBytes` have been written. Declared sizes (and the declared ratio) are
 * checked up front too but never trusted: bytes are counted as they are written, and a zip entry that inflates
 * past its declared size is refused.
 * Skipped and reported, not refused: nested archives (by extension) and exotic tar entry types.
 * Files are created 0644 (dirs 0755) with O_EXCL|O_NOFOLLOW, so an existing path or symlink is never followed.
 */
import { constants as fsConstants, createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import yauzl from 'yauzl';
import { ArchiveError } from './archive-error.js';
import { detectArchiveFormat, type ArchiveFormat } from './archive-format.js';

export interface ArchiveLimits {
  maxEntries: number;
  maxTotalBytes: number;
  maxEntryBytes: number;
  maxCompressionRatio: number;
  /** The ratio limit applies only after this many bytes, so tiny archives of text-like files pass. */
  ratioGraceBytes: number;
}

export const DEFAULT_ARCHIVE_LIMITS: Readonly<ArchiveLimits> = Object.freeze({
  maxEntries: 100_000,
  maxTotalBytes: 4 * 1024 ** 3,
  maxEntryBytes: 1024 ** 3,
  maxCompressionRatio: 200,
  ratioGraceBytes: 1024 ** 2,
});

export interface ExtractionResult {
  format: ArchiveFormat;
  /** Regular files written. */
  files: number;
  /** Bytes written. */
  bytes: number;
  ignored: Array<{ path: string; reason: string }>;
}

const NESTED_ARCHIVE = /\.(zip|tar|tgz|gz|tbz2?|bz2|txz|xz|7z|rar|zst|tzst)$/i;
const MAX_PATH_LENGTH = 1024;

/** Validates an entry name and returns it normalised ('' for the archive root), or throws. */
export function safeEntryPath(name: string): string {
  if (name.includes('\0')) throw new ArchiveError('NUL byte in entry name', name.replace(/\0/g, '\\0'));
  if (name.includes('\\')) throw new ArchiveError('backslash in entry name (Windows path)', name);
  if (/^[a-zA-Z]:/.test(name)) throw new ArchiveError('Windows drive letter in entry name', name);
  if (name.startsWith('/')) throw new ArchiveError('absolute path', name);
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw new ArchiveError('parent directory reference (..)', name);
  const normalised = segments.join('/');
  if (normalised.length > MAX_PATH_LENGTH || segments.some((s) => Buffer.byteLength(s) > 255)) {
    throw new ArchiveError('entry name too long', name.slice(0, 100));
  }
  return normalised;
}

/** Owns the destination folder: creates folders and files safely and enforces the byte limits. */
class ExtractionSink {
  files = 0;
  bytes = 0;
  entries = 0;
  private declaredBytes = 0;
  readonly ignored: Array<{ path: string; reason: string }> = [];
  private readonly knownDirs = new Set<string>(['']);

  constructor(
    private readonly root: string,
    readonly limits: ArchiveLimits,
    private readonly archiveBytes: number,
  ) {}

  countEntry(name: string): void {
    if (++this.entries > this.limits.maxEntries) {
      throw new ArchiveError(`too many entries (more than ${this.limits.maxEntries})`, name);
    }
  }

  /**
   * An entry's declared size, added to the archive's declared total, checked before a byte of it is written: an
   * honest bomb is refused from its headers alone. Declared sizes are never trusted beyond that.
   */
  declare(name: string, size: number): void {
    const { maxTotalBytes, maxEntryBytes, maxCompressionRatio, ratioGraceBytes } = this.limits;
    this.declaredBytes += size;
    if (this.declaredBytes > maxTotalBytes)
      throw new ArchiveError(`archive declares more than ${maxTotalBytes} bytes`, name);
    if (this.declaredBytes > ratioGraceBytes && this.declaredBytes > maxCompressionRatio * this.archiveBytes) {
      throw new ArchiveError(
        `compression ratio above ${maxCompressionRatio} (declares ${this.declaredBytes} bytes in a ${this.archiveBytes}-byte archive)`,
        name,
      );
    }
    if (size > maxEntryBytes) throw new ArchiveError(`entry larger than ${maxEntryBytes} bytes`, name);
  }

  async ensureDir(rel: string): Promise<void> {
    if (this.knownDirs.has(rel)) return;
    const parent = path.posix.dirname(rel);
    await this.ensureDir(parent === '.' ? '' : parent);
    const abs = path.join(this.root, rel);
    try {
      await mkdir(abs, { mode: 0o755 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!(await lstat(abs)).isDirectory()) throw new ArchiveError('a file and a folder share a name', rel);
    }
    this.knownDirs.add(rel);
  }

  async writeFile(rel: string, source: AsyncIterable<Buffer> | Readable, signal?: AbortSignal): Promise<void> {
    const parent = path.posix.dirname(rel);
    await this.ensureDir(parent === '.' ? '' : parent);
    const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
    let handle;
    try {
      handle = await open(path.join(this.root, rel), flags, 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ELOOP' || code === 'EISDIR') throw new ArchiveError('duplicate entry', rel);
      throw err;
    }
    let entryBytes = 0;
    const onChunk = (length: number): void => {
      entryBytes += length;
      this.bytes += length;
      this.checkWritten(rel, entryBytes);
    };
    async function* count(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const chunk of chunks) {
        onChunk(chunk.length);
        yield chunk;
      }
    }
    await pipeline(source, count, handle.createWriteStream(), { signal });
    this.files++;
  }

  private checkWritten(rel: string, entryBytes: number): void {
    const { maxEntryBytes, maxTotalBytes, maxCompressionRatio, ratioGraceBytes } = this.limits;
    if (entryBytes > maxEntryBytes) throw new ArchiveError(`entry larger than ${maxEntryBytes} bytes`, rel);
    if (this.bytes > maxTotalBytes) throw new ArchiveError(`archive expands to more than ${maxTotalBytes} bytes`, rel);
    if (this.bytes > ratioGraceBytes && this.bytes > maxCompressionRatio * this.archiveBytes) {
      throw new ArchiveError(`compression ratio above ${maxCompressionRatio}`, rel);
    }
  }
}

function zipEntryKind(entry: yauzl.Entry, name: string): 'file' | 'dir' {
  if (entry.generalPurposeBitFlag & 0x1) throw new ArchiveError('encrypted entry', name);
  // Unix mode bits live in the high half of the external attributes; 0 means "not recorded".
  const type = (entry.externalFileAttributes >>> 16) & 0o170000;
  if (type === 0o120000) throw new ArchiveError('symbolic link', name);
  if (type !== 0 && type !== 0o100000 && type !== 0o040000) {
    throw new ArchiveError('special file (device, FIFO or socket)', name);
  }
  return name.endsWith('/') || type === 0o040000 ? 'dir' : 'file';
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    const options = { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true };
    yauzl.open(file, options, (err, zip) => (err ? reject(err) : resolve(zip)));
  });
}

function readAllEntries(
  zip: yauzl.ZipFile,
  sink: ExtractionSink,
): Promise<Array<{ entry: yauzl.Entry; name: string }>> {
  return new Promise((resolve, reject) => {
    const entries: Array<{ entry: yauzl.Entry; name: string }> = [];
    zip.on('error', reject);
    zip.on('end', () => resolve(entries));
    zip.on('entry', (entry: yauzl.Entry) => {
      try {
        const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
        sink.countEntry(name);
        safeEntryPath(name);
        zipEntryKind(entry, name);
        sink.declare(name, entry.uncompressedSize);
        entries.push({ entry, name });
        zip.readEntry();
      } catch (err) {
        reject(err);
      }
    });
    zip.readEntry();
  });
}

async function extractZip(file: string, sink: ExtractionSink): Promise<void> {
  const zip = await openZip(file);
  try {
    // The central directory is validated completely before a single byte is written.
    const entries = await readAllEntries(zip, sink);
    for (const { entry, name } of entries) {
      const rel = safeEntryPath(name);
      if (zipEntryKind(entry, name) === 'dir') {
        if (rel) await sink.ensureDir(rel);
      } else if (NESTED_ARCHIVE.test(rel)) {
        sink.ignored.push({ path: rel, reason: 'nested archive (not extracted)' });
      } else if (rel) {
        const stream = await zip.openReadStreamPromise(entry);
        // yauzl's size check can fire again on chunks already buffered after pipeline gave up on the stream;
        // pipeline reports the first error, later ones must not become uncaught exceptions.
        stream.on('error', () => {});
        try {
          await sink.writeFile(rel, stream);
        } catch (err) {
          // A header that understates the size (a disguised zip bomb): yauzl stops at the declared size.
          if (/too many bytes in the stream/.test((err as Error)?.message)) {
            throw new ArchiveError(
              'entry inflates to more bytes than its header declares',
              rel,
              (err as Error).message,
            );
          }
          throw err;
        }
      }
    }
  } finally {
    zip.close();
  }
}

async function* iterate(entry: ReadEntry): AsyncGenerator<Buffer> {
  for await (const chunk of entry) yield chunk;
}

async function handleTarEntry(entry: ReadEntry, sink: ExtractionSink, signal: AbortSignal): Promise<void> {
  const name = entry.path;
  sink.countEntry(name);
  const rel = safeEntryPath(name);
  switch (entry.type) {
    case 'SymbolicLink':
      throw new ArchiveError('symbolic link', name);
    case 'Link':
      throw new ArchiveError('hard link', name);
    case 'CharacterDevice':
    case 'BlockDevice':
      throw new ArchiveError('device file', name);
    case 'FIFO':
      throw new ArchiveError('FIFO', name);
    case 'Directory':
      entry.resume();
      if (rel) await sink.ensureDir(rel);
      return;
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      sink.declare(name, entry.size);
      if (NESTED_ARCHIVE.test(rel)) {
        entry.resume();
        sink.ignored.push({ path: rel, reason: 'nested archive (not extracted)' });
      } else if (rel) {
        await sink.writeFile(rel, iterate(entry), signal);
      } else {
        entry.resume();
      }
      return;
    default:
      entry.resume();
      sink.ignored.push({ path: rel || name, reason: `unsupported tar entry type (${entry.type})` });
  }
}

function extractTar(file: string, sink: ExtractionSink): Promise<void> {
  return new Promise((resolve, reject) => {
    const input = createReadStream(file);
    // node-tar's own gzip ratio guard stops a bomb even before entries are emitted (e.g. a run of zero blocks).
    const parserRatio = Math.max(1000, sink.limits.maxCompressionRatio);
    const parser = new Parser({ strict: true, maxDecompressionRatio: parserRatio });
    const abort = new AbortController();
    let settled = false;
    let chain = Promise.resolve();
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      abort.abort();
      input.destroy();
      const error =
        err instanceof ArchiveError
          ? err
          : /decompression ratio/.test(String((err as Error)?.message))
            ? new ArchiveError(`compression ratio above ${parserRatio}`)
            : new ArchiveError('corrupt tar archive', undefined, String((err as Error)?.message ?? err));
      // Settle only once the entry being written has stopped, so cleanup cannot race a late mkdir/open.
      const settle = (): void => reject(error);
      void chain.then(settle, settle);
    };
    parser.on('entry', (entry: ReadEntry) => {
      if (settled) return entry.resume();
      // The parser emits the next entry only after this one is consumed; the chain keeps writes in order.
      chain = chain.then(() => (settled ? void entry.resume() : handleTarEntry(entry, sink, abort.signal))).catch(fail);
    });
    parser.on('error', fail);
    parser.on('end', () => {
      void chain.then(() => {
        if (!settled) {
          settled = true;
          resolve();
        }
      });
    });
    input.on('error', fail);
    input.pipe(parser as unknown as NodeJS.WritableStream);
  });
}

async function prepareDestination(dest: string): Promise<boolean> {
  const existing = await lstat(dest).catch(() => undefined);
  if (!existing) {
    await mkdir(dest, { recursive: true, mode: 0o755 });
    return true;
  }
  if (!existing.isDirectory()) throw new ArchiveError('destination is not a folder', dest);
  if ((await readdir(dest)).length > 0) throw new ArchiveError('destination folder is not empty', dest);
  return false;
}

async function removeWritten(dest: string, createdDest: boolean): Promise<void> {
  if (createdDest) {
    await rm(dest, { recursive: true, force: true });
    return;
  }
  for (const name of await readdir(dest)) await rm(path.join(dest, name), { recursive: true, force: true });
}

export async function extractArchive(
  archivePath: string,
  destDir: string,
  limits: Partial<ArchiveLimits> = {},
): Promise<ExtractionResult> {
  const effective: ArchiveLimits = { ...DEFAULT_ARCHIVE_LIMITS, ...limits };
  const format = await detectArchiveFormat(archivePath);
  const archiveBytes = (await stat(archivePath)).size;
  const dest = path.resolve(destDir);
  const createdDest = await prepareDestination(dest);
  const sink = new ExtractionSink(dest, effective, archiveBytes);
  try {
    if (format === 'zip') await extractZip(archivePath, sink);
    else await extractTar(archivePath, sink);
  } catch (err) {
    await removeWritten(dest, createdDest);
    const message = err instanceof Error ? err.message : String(err);
    const refusal =
      err instanceof ArchiveError ? err : new ArchiveError(`corrupt ${format} archive`, undefined, message);
    // How far extraction got before the refusal (all of it removed again): shows a bomb was stopped early.
    refusal.extensions.extractedBytes = sink.bytes;
    throw refusal;
  }
  return { format, files: sink.files, bytes: sink.bytes, ignored: sink.ignored };
}
