import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { closeBullmq } from './close-bullmq.js';
import { createRedisConnection, redisOptions } from './redis-connection.js';

/**
 * Batch inference has its own queue, apart from `training`: a long batch never holds a training worker, a
 * training job never delays a batch, and the two kinds of worker are sized (and scaled) separately.
 */
export const INFERENCE_QUEUE = 'inference';

/** The api's side of the `inference` queue: enqueue batch jobs and read their state. */
export class InferenceQueue {
  readonly queue: Queue;
  /** For the api's own keys beside the queue (cancel flags). */
  readonly redis: Redis;
  private closed = false;

  constructor(options: { redisUrl: string; prefix: string }) {
    this.redis = createRedisConnection(options.redisUrl, 'producer');
    this.queue = new Queue(INFERENCE_QUEUE, {
      connection: redisOptions(options.redisUrl, 'producer'),
      prefix: options.prefix,
    });
    this.queue.on('error', () => {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeBullmq(this.queue);
    // quit() would wait in the offline queue for a Redis that may never come back.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}
