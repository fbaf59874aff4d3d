import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** fsync a file or directory by path (a directory's fsync makes a rename inside it durable). */
export async function fsyncPath(target: string): Promise<void> {
  const handle = await open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `data` (or its chunks, in order) to a temp file beside `target`, fsyncs it, renames it over the
 * target and fsyncs the directory: readers see the old file or the whole new one, even after a crash.
 */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array | readonly Uint8Array[],
  mode = 0o644,
): Promise<void> {
  const temp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(temp, 'w', mode);
  try {
    if (Array.isArray(data)) await handle.writev(data as Uint8Array[]);
    else await handle.writeFile(data as string | Uint8Array);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await fsyncPath(path.dirname(target));
}
