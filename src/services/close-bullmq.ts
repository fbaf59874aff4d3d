import type { QueueBase } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Closes a BullMQ Queue/Worker/QueueEvents without the crash BullMQ 5.81 has when one is closed while its
 * connection is still initialising: the failed init is emitted as 'error' after close() removed every
 * listener, which throws. Waiting (briefly) for the connection to settle first avoids that path.
 */
export async function closeBullmq(resource: Pick<QueueBase, 'waitUntilReady' | 'close'>, settleMs = 2000) {
  await Promise.race([resource.waitUntilReady().catch(() => undefined), sleep(settleMs)]);
  await resource.close();
}
