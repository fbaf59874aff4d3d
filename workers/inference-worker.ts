import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { createInferenceWorker } from './create-inference-worker.js';
import { startHeartbeat } from './worker-heartbeat.js';

// start:inference-worker — one BullMQ worker on the `inference` queue (batch jobs); SIGTERM stops the running
// job at its next batch of images (it is retried), then exits.
const config = loadConfig();
const log = pino({ level: config.logLevel, name: 'inference-worker' });
const { worker, close } = createInferenceWorker(config, log);
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
log.info({ concurrency: config.inferenceWorkerConcurrency }, 'inference worker ready');
