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
  private readonly probe: Redis;
  private closed = false;

  constructor(options: TrainingQueueOptions) {
    this.probe = createRedisConnection(options.redisUrl, 'probe');
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
  }
}
