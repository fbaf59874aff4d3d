import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** md5 of a file, streamed so a 250 MB weights file is never held in memory at once. */
export async function md5OfFile(filePath: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(filePath, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
