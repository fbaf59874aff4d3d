/* global console */
// Container health check of a training worker: its heartbeat file (WORKER_HEARTBEAT_FILE, touched every 10 s by
// the worker's main process while the BullMQ worker runs) must be fresher than MAX_AGE_MS. Training runs in a
// sandboxed child process, so a long epoch does not delay the beat; a hung or stopped worker does.
// Exit status 0 = healthy, 1 = unhealthy, as Docker's HEALTHCHECK expects.
import fs from 'node:fs';
import process from 'node:process';

const maxAgeMs = 60_000;
const file = process.env.WORKER_HEARTBEAT_FILE;
if (!file) {
  console.error('WORKER_HEARTBEAT_FILE is not set, so the worker writes no heartbeat to check');
  process.exit(1);
}
let ageMs;
try {
  ageMs = Date.now() - fs.statSync(file).mtimeMs;
} catch {
  console.error(`no heartbeat at ${file}: the worker has not started, or has stopped`);
  process.exit(1);
}
if (ageMs > maxAgeMs) {
  console.error(`heartbeat ${file} is ${Math.round(ageMs / 1000)} s old (limit ${maxAgeMs / 1000} s)`);
  process.exit(1);
}
