import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { closeBullmq } from './close-bullmq.js';
import { createRedisConnection, pingRedis, redisOptions } from './redis-connection.js';

export const TRAINING_QUEUE = 'training';

export interface TrainingQueueOptions {
  redisUrl: string;
  prefix: string;
}

/** The api's side of the `training` queue: enqueue, read job state, and probe Redis for /ready. */
export class TrainingQueue {
  readonly queue: Queue;
  /** For the api's own keys beside the queue (idempotency records, cancel flags). */
  readonly redis: Redis;
  private readonly probe: Redis;
  private closed = false;

  constructor(options: TrainingQueueOptions) {
    this.probe = createRedisConnection(options.redisUrl, 'probe');
    this.redis = createRedisConnection(options.redisUrl, 'producer');
    this.queue = new Queue(TRAINING_QUEUE, {
      connection: redisOptions(options.redisUrl, 'producer'),
      prefix: options.prefix,
    });
    this.queue.on('error', () => {});
  }

  ping(timeoutMs?: number): Promise<boolean> {
    return pingRedis(this.probe, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.probe.disconnect();
    await closeBullmq(this.queue);
    // quit() would wait in the offline queue for a Redis that may never come back.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}
