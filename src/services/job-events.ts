import { QueueEvents } from 'bullmq';
import { EventEmitter } from 'node:events';
import { closeBullmq } from './close-bullmq.js';
import { redisOptions } from './redis-connection.js';
import { TRAINING_QUEUE } from './training-queue.js';

export type JobEventName = 'waiting' | 'active' | 'progress' | 'completed' | 'failed' | 'removed';

/**
 * One BullMQ QueueEvents subscription for the whole api, fanned out per job id, so any number of
 * server-sent-event streams cost one Redis connection.
 */
export class JobEvents {
  private readonly events: QueueEvents;
  private readonly fanout = new EventEmitter();

  constructor(options: { redisUrl: string; prefix: string }) {
    this.fanout.setMaxListeners(0);
    this.events = new QueueEvents(TRAINING_QUEUE, {
      connection: redisOptions(options.redisUrl, 'worker'),
      prefix: options.prefix,
    });
    this.events.on('error', () => {});
    for (const name of ['waiting', 'active', 'progress', 'completed', 'failed', 'removed'] as const) {
      this.events.on(name, (args: { jobId: string }) => this.fanout.emit(args.jobId, name));
    }
  }

  ready(): Promise<void> {
    return this.events.waitUntilReady().then(() => undefined);
  }

  /** Calls `listener` with the event name whenever job `jobId` changes; returns the unsubscribe function. */
  subscribe(jobId: string, listener: (event: JobEventName) => void): () => void {
    this.fanout.on(jobId, listener);
    return () => this.fanout.off(jobId, listener);
  }

  close(): Promise<void> {
    this.fanout.removeAllListeners();
    return closeBullmq(this.events);
  }
}
