import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { createTrainingWorker } from './create-training-worker.js';

// start:worker — one BullMQ worker on the `training` queue; SIGTERM lets the current job checkpoint, then exits.
const config = loadConfig();
const log = pino({ level: config.logLevel, name: 'worker' });
const { worker, close } = createTrainingWorker(config, log);
await worker.waitUntilReady();
log.info({ concurrency: config.workerConcurrency }, 'training worker ready');
closeWithGrace({ delay: 60_000 }, async ({ err, signal }) => {
  if (err) log.error({ err }, 'closing after an uncaught error');
  else log.info({ signal }, 'closing');
  await close();
});
