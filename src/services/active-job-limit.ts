import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { DomainError } from '../errors/domain-error.js';
import { cancelKey } from './job-cancellation.js';

/** The caller's queued and running jobs already fill JOBS_MAX_ACTIVE_PER_KEY. HTTP 429. */
export class TooManyActiveJobsError extends DomainError {
  constructor(
    readonly limit: number,
    readonly active: number,
  ) {
    super(
      429,
      'Too Many Active Jobs',
      `this API key already has ${active} queued or running jobs, the most allowed (JOBS_MAX_ACTIVE_PER_KEY=${limit}); ` +
        'wait for one to end, or cancel one, and retry',
      { limit, active },
    );
  }
}

/**
 * Who owns a job, for the per-key job limit: a digest of the bearer API key (never the key itself), or
 * 'anonymous' when the service runs without API keys. Then every caller shares one count, whatever
 * Authorization header it sends, so made-up tokens cannot open new counts.
 */
export function jobOwner(request: FastifyRequest, apiKeysConfigured: boolean): string {
  const token = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
  if (!apiKeysConfigured || !token) return 'anonymous';
  return `key:${createHash('sha256').update(token).digest('hex').slice(0, 32)}`;
}

/**
 * A slot is a member of the owner's sorted set (score: when it was reserved). Before counting, the script drops
 * every member whose job has ended: completed or failed (which covers cancelled running jobs and jobs whose
 * worker crashed until their retries ran out), cancelled while not running, or removed. Slots are thus freed
 * lazily by whoever checks next, whatever ended the job, and no worker has to remember to release them.
 * A reserved member whose job does not exist yet (reserved, not yet enqueued) is kept for `graceMs`, so a
 * concurrent check cannot drop it; one that was never enqueued (the api died in between) expires after that.
 * Check and reservation are one script, so two concurrent requests can never both take the last slot.
 *
 * KEYS: slot set, completed zset, failed zset, active list.
 * ARGV: limit, job id, now (ms), graceMs, job key prefix, cancel key prefix.
 */
const reserveScript = `
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local now = tonumber(ARGV[3])
for i = 1, #members, 2 do
  local id = members[i]
  local reserved = tonumber(members[i + 1])
  local ended = false
  if redis.call('EXISTS', ARGV[5] .. id) == 0 then
    ended = now - reserved > tonumber(ARGV[4])
  elseif redis.call('ZSCORE', KEYS[2], id) or redis.call('ZSCORE', KEYS[3], id) then
    ended = true
  elseif redis.call('EXISTS', ARGV[6] .. id) == 1 and not redis.call('LPOS', KEYS[4], id) then
    ended = true
  end
  if ended then redis.call('ZREM', KEYS[1], id) end
end
local active = redis.call('ZCARD', KEYS[1])
if active >= tonumber(ARGV[1]) then return {0, active} end
redis.call('ZADD', KEYS[1], now, ARGV[2])
return {1, active + 1}
`;

const graceMs = 60_000;

/**
 * JOBS_MAX_ACTIVE_PER_KEY: at most `limit` queued or running training jobs per owner (see jobOwner). The
 * per-owner sets live beside the `training` queue's keys in Redis, so every api replica shares them.
 */
export class ActiveJobLimit {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly limit: number,
  ) {}

  private slotsKey(owner: string): string {
    return `${this.prefix}:training:active-by-owner:${owner}`;
  }

  /** Takes a slot for `jobId` or throws TooManyActiveJobsError. */
  async reserve(owner: string, jobId: string): Promise<void> {
    const queue = `${this.prefix}:training:`;
    const keys = [this.slotsKey(owner), `${queue}completed`, `${queue}failed`, `${queue}active`];
    const args = [this.limit, jobId, Date.now(), graceMs, queue, cancelKey(this.prefix, '')];
    const [ok, active] = (await this.redis.eval(reserveScript, keys.length, ...keys, ...args)) as [number, number];
    if (ok !== 1) throw new TooManyActiveJobsError(this.limit, active);
  }

  /** Gives a slot back at once, for a job that was reserved but could not be enqueued. */
  async release(owner: string, jobId: string): Promise<void> {
    await this.redis.zrem(this.slotsKey(owner), jobId);
  }
}
