import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArchiveError } from '../data/archive-error.js';
import { extractArchive, type ArchiveLimits } from '../data/archive-extraction.js';
import { inspectDataset } from '../data/dataset-report.js';
import { DomainError, NotFoundError } from '../errors/domain-error.js';
import type { Dataset } from '../schemas/datasets.js';
import type { FileStorage } from './file-storage.js';
import { newId } from './resource-id.js';

/** DATA_DIR ran out of space (or quota) while an upload was stored or extracted. HTTP 507. */
export class InsufficientStorageError extends DomainError {
  constructor(cause: unknown) {
    super(
      507,
      'Insufficient Storage',
      'no space left on the server to store this dataset; nothing was kept. Free space in DATA_DIR and retry',
      {},
    );
    this.cause = cause;
  }
}

/** The uploaded archive is larger than UPLOAD_MAX_BYTES. HTTP 413. */
export class UploadTooLargeError extends DomainError {
  constructor(limit: number) {
    super(413, 'Payload Too Large', `the upload is larger than ${limit} bytes (UPLOAD_MAX_BYTES); nothing was kept`, {
      limit,
    });
  }
}

const diskFull = /^(ENOSPC|EDQUOT)\b/;

/**
 * A full disk, whether it surfaced as the write's own error (streaming the upload, writing the report) or
 * inside an ArchiveError: the extractor reports any failure while extracting as a corrupt archive and keeps
 * the system error's message in `detail`.
 */
function isDiskFull(error: unknown): boolean {
  if (error instanceof ArchiveError) return diskFull.test(error.detail ?? '');
  return diskFull.test(String((error as NodeJS.ErrnoException)?.code ?? ''));
}

export interface DatasetStoreLimits {
  archive: Partial<ArchiveLimits>;
  imagePixels: number;
  /** DATASET_MAX_CLASSES. */
  classes?: number;
  /** UPLOAD_MAX_BYTES, for the message when the multipart parser cut an upload short. */
  uploadBytes?: number;
}

/**
 * Datasets under DATA_DIR/datasets/<id>/: `files/` (the extracted tree) and `dataset.json` (the report).
 * An upload is streamed to disk, extracted and validated under DATA_DIR/tmp, and only a dataset that passed
 * everything is moved into place in one rename, so a failed upload leaves nothing behind.
 */
export class DatasetStore {
  constructor(
    private readonly storage: FileStorage,
    private readonly limits: DatasetStoreLimits,
  ) {}

  async createFromUpload(upload: Readable, options: { filename?: string; name?: string }): Promise<Dataset> {
    const id = newId('ds');
    const work = this.storage.tempPath(`dataset-${id}`);
    await fsp.mkdir(work, { recursive: true });
    try {
      const archive = path.join(work, 'upload');
      await pipeline(upload, fs.createWriteStream(archive, { flags: 'wx', mode: 0o600 }));
      // The multipart parser ends a file at UPLOAD_MAX_BYTES and only flags it; a cut archive is no archive.
      if ((upload as Readable & { truncated?: boolean }).truncated) {
        throw new UploadTooLargeError(this.limits.uploadBytes ?? (await fsp.stat(archive)).size);
      }
      const files = path.join(work, 'dataset', 'files');
      const extraction = await extractArchive(archive, files, this.limits.archive);
      await fsp.rm(archive);
      const report = await inspectDataset(files, {
        limitInputPixels: this.limits.imagePixels,
        maxClasses: this.limits.classes,
      });
      const bytes = extraction.bytes;
      const dataset: Dataset = {
        id,
        name: options.name?.trim() || stripArchiveExtension(options.filename) || id,
        layout: report.layout,
        classes: report.classes.map((c) => ({ name: c.name, count: c.count + (c.valCount ?? 0) })),
        images: report.images,
        skipped: [
          ...extraction.ignored.map((i) => ({ path: i.path, reason: i.reason })),
          ...report.skipped.map((s) => ({ path: s.path, reason: s.reason })),
        ],
        bytes,
        createdAt: new Date().toISOString(),
      };
      await fsp.writeFile(path.join(work, 'dataset', 'dataset.json'), JSON.stringify(dataset, null, 2));
      await this.storage.commitDirectory(path.join(work, 'dataset'), `datasets/${id}`);
      return dataset;
    } catch (error) {
      throw isDiskFull(error) ? new InsufficientStorageError(error) : error;
    } finally {
      await fsp.rm(work, { recursive: true, force: true });
    }
  }

  async list(): Promise<Dataset[]> {
    const ids = await this.storage.list('datasets');
    const datasets = await Promise.all(ids.map((id) => this.find(id)));
    return datasets.filter((d): d is Dataset => d !== undefined).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async get(id: string): Promise<Dataset> {
    const dataset = await this.find(id);
    if (!dataset) throw new NotFoundError('dataset', id);
    return dataset;
  }

  /** The directory a trainer reads: the dataset's extracted files. */
  filesDir(id: string): string {
    return this.storage.resolve(`datasets/${id}/files`);
  }

  async delete(id: string): Promise<void> {
    await this.get(id);
    // Rename first so a concurrent reader never sees a half-deleted dataset.
    const doomed = this.storage.tempPath(`deleted-${id}`);
    await fsp.rename(this.storage.resolve(`datasets/${id}`), doomed);
    await fsp.rm(doomed, { recursive: true, force: true });
  }

  private async find(id: string): Promise<Dataset | undefined> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return undefined;
    try {
      return await this.storage.readJson<Dataset>(`datasets/${id}/dataset.json`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }
}

function stripArchiveExtension(filename: string | undefined): string | undefined {
  return filename?.replace(/\.(zip|tar|tar\.gz|tgz)$/i, '').slice(0, 200) || undefined;
}
