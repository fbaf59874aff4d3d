import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { loadConfig, type Config } from '../src/config.js';
import type { SandboxedWorker, WorkerLog } from './sandboxed-worker.js';
import { startHeartbeat } from './worker-heartbeat.js';

/**
 * The body of a worker process's entry: config from the environment, the worker, graceful close on
 * SIGINT/SIGTERM (registered before anything is awaited, so a signal during start-up also closes cleanly), the
 * heartbeat file, and a "<name> ready" log line once BullMQ is connected.
 */
export async function runWorkerProcess(
  name: string,
  create: (config: Config, log: WorkerLog) => SandboxedWorker,
  concurrencyOf: (config: Config) => number,
): Promise<void> {
  const config = loadConfig();
  const log = pino({ level: config.logLevel, name });
  const { worker, close } = create(config, log);
  let stopHeartbeat: (() => Promise<void>) | undefined;
  closeWithGrace({ delay: 60_000 }, async ({ err, signal }) => {
    if (err) log.error({ err }, 'closing after an uncaught error');
    else log.info({ signal }, 'closing');
    await stopHeartbeat?.();
    await close();
  });
  await worker.waitUntilReady();
  if (config.workerHeartbeatFile) {
    stopHeartbeat = startHeartbeat(config.workerHeartbeatFile, () => worker.isRunning());
  }
  log.info({ concurrency: concurrencyOf(config) }, `${name} ready`);
}
