import { open, type FileHandle } from 'node:fs/promises';

/** Streams JSON Lines: each append writes its records at once, so memory holds one batch at most. */
export class JsonlWriter {
  private constructor(private readonly handle: FileHandle) {}

  static async create(file: string): Promise<JsonlWriter> {
    return new JsonlWriter(await open(file, 'wx', 0o644));
  }

  async append(records: readonly unknown[]): Promise<void> {
    if (records.length === 0) return;
    await this.handle.write(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }

  async close(): Promise<void> {
    try {
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
  }

  /** Closes without syncing, for a job that is being abandoned. */
  async abandon(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}
