import { once } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * How a process uses Redis decides how a connection should behave when Redis is away:
 * - `worker`: BullMQ workers block on Redis and must wait for it forever (maxRetriesPerRequest null).
 * - `producer`: the api enqueues and reads jobs; a request should fail fast rather than hang.
 * - `probe`: /ready pings; it must answer at once, so commands are not queued while disconnected.
 * All three reconnect on their own when Redis comes back.
 */
export type RedisRole = 'worker' | 'producer' | 'probe';

const optionsFor: Record<RedisRole, RedisOptions> = {
  worker: { maxRetriesPerRequest: null },
  producer: { maxRetriesPerRequest: 1, enableOfflineQueue: true },
  probe: { maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 2000 },
};

/**
 * ioredis options for a role, parsed from a redis:// or rediss:// URL. BullMQ takes these rather than a
 * client, so that it owns the connection and its close() handles a connect still in progress.
 */
export function redisOptions(url: string, role: RedisRole): RedisOptions {
  const parsed = new URL(url);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.pathname.length > 1 ? { db: Number(parsed.pathname.slice(1)) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    ...optionsFor[role],
    // Back off up to 2 s between reconnects, forever: a restarted Redis is picked up again.
    retryStrategy: (times: number) => Math.min(times * 100, 2000),
  };
}

export function createRedisConnection(url: string, role: RedisRole): Redis {
  const redis = new Redis(redisOptions(url, role));
  // Connection errors are reported through readiness and job state; an unhandled 'error' would crash.
  redis.on('error', () => {});
  return redis;
}

/** PING with a deadline; false when Redis is unreachable. Waits, within the deadline, for a connect in progress. */
export async function pingRedis(redis: Redis, timeoutMs = 1000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
  });
  try {
    if (redis.status !== 'ready') await Promise.race([once(redis, 'ready'), deadline]);
    return (await Promise.race([redis.ping(), deadline])) === 'PONG';
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
