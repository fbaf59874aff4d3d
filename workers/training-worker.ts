import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { createTrainingWorker } from './create-training-worker.js';
import { startHeartbeat } from './worker-heartbeat.js';

// start:worker — one BullMQ worker on the `training` queue; SIGTERM lets the current job checkpoint, then exits.
const config = loadConfig();
const log = pino({ level: config.logLevel, name: 'worker' });
const { worker, close } = createTrainingWorker(config, log);
let stopHeartbeat: (() => Promise<void>) | undefined;
// Registered before anything is awaited, so a signal during start-up also closes cleanly.
closeWithGrace({ delay: 60_000 }, async ({ err, signal }) => {
  if (err) log.error({ err }, 'closing after an uncaught error');
  else log.info({ signal }, 'closing');
  await stopHeartbeat?.();
  await close();
});
await worker.waitUntilReady();
if (config.workerHeartbeatFile) stopHeartbeat = startHeartbeat(config.workerHeartbeatFile, () => worker.isRunning());
log.info({ concurrency: config.workerConcurrency }, 'training worker ready');
