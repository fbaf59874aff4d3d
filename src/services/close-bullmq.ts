import type { QueueBase } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Closes a BullMQ Queue/Worker/QueueEvents, also when Redis is away:
 * - BullMQ 5.81 crashes when one is closed while its connection is still initialising (the failed init is
 *   emitted as 'error' after close() removed every listener), so wait briefly for the connection first;
 * - close() (and disconnect()) wait forever for a Redis that never answers, so for one that never became
 *   ready, closing is given `settleMs` and then abandoned: the process is on its way out.
 */
export async function closeBullmq(resource: Pick<QueueBase, 'waitUntilReady' | 'close'>, settleMs = 2000) {
  const ready = await Promise.race([
    resource.waitUntilReady().then(
      () => true,
      () => false,
    ),
    sleep(settleMs).then(() => false),
  ]);
  if (ready) await resource.close();
  else await Promise.race([resource.close().catch(() => undefined), sleep(settleMs)]);
}
