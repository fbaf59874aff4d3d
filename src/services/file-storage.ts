import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fsyncPath, writeFileAtomic } from '../fs/atomic-file.js';

export class StorageKeyError extends Error {
  constructor(key: string) {
    super(`storage key '${key}' escapes the data directory`);
    this.name = 'StorageKeyError';
  }
}

/**
 * DATA_DIR behind one small interface, so an object store can replace it later. Keys are
 * '/'-separated relative paths. Every file is written atomically: temp file, fsync, rename.
 */
export class FileStorage {
  constructor(readonly root: string) {}

  /** Absolute path of a key; refuses keys that would leave the root. */
  resolve(key: string): string {
    const full = path.resolve(this.root, key);
    if (full !== this.root && !full.startsWith(this.root + path.sep)) throw new StorageKeyError(key);
    return full;
  }

  async init(): Promise<void> {
    await fs.mkdir(this.resolve('tmp'), { recursive: true });
  }

  /** A fresh path under DATA_DIR/tmp (same filesystem as the data, so renames are atomic). */
  tempPath(hint = 'tmp'): string {
    return this.resolve(`tmp/${hint}-${randomUUID()}`);
  }

  async writeAtomic(key: string, data: string | Uint8Array): Promise<void> {
    const target = this.resolve(key);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await writeFileAtomic(target, data);
  }

  async read(key: string): Promise<Buffer> {
    return fs.readFile(this.resolve(key));
  }

  async readJson<T>(key: string): Promise<T> {
    return JSON.parse((await this.read(key)).toString('utf8')) as T;
  }

  async exists(key: string): Promise<boolean> {
    try {
      await fs.access(this.resolve(key), fsConstants.F_OK);
      return true;
    } catch {
      return false;
    }
  }

  /** Moves a finished directory (built under tmp/) to its key in one rename. */
  async commitDirectory(tempDir: string, key: string): Promise<void> {
    const target = this.resolve(key);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.rename(tempDir, target);
    await fsyncPath(path.dirname(target));
  }

  async list(prefix: string): Promise<string[]> {
    try {
      return (await fs.readdir(this.resolve(prefix))).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async remove(key: string): Promise<void> {
    await fs.rm(this.resolve(key), { recursive: true, force: true });
  }
}
