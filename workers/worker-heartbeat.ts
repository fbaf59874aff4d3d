import fs from 'node:fs/promises';

/** How often a worker touches its heartbeat file; docker/worker-healthcheck.mjs tolerates a few missed beats. */
export const heartbeatIntervalMs = 10_000;

/**
 * Touches `file` every interval while `alive()` holds, so a container health check can tell a live worker
 * from a hung or stopped one without a Redis client of its own. The beat runs on the worker's main event
 * loop; training runs in the sandboxed child, so a long epoch never delays it. Returns a stop function that
 * removes the file.
 */
export function startHeartbeat(
  file: string,
  alive: () => boolean,
  intervalMs = heartbeatIntervalMs,
): () => Promise<void> {
  const beat = async () => {
    if (!alive()) return;
    // A failed write shows up as a stale file, which is what the health check reports.
    await fs.writeFile(file, `${new Date().toISOString()}\n`).catch(() => undefined);
  };
  void beat();
  const timer = setInterval(() => void beat(), intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await fs.rm(file, { force: true });
  };
}
