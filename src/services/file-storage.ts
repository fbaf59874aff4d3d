import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

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
    await fsyncDirectory(path.dirname(target));
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

export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const temp = `${target}.${randomUUID()}.tmp`;
  const handle = await fs.open(temp, 'w', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  await fsyncDirectory(path.dirname(target));
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
