import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { TrackingConfig } from './tracking.config';

/** Injection token of the shared ioredis client; its value is null when no Redis is configured. */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

export function redisConfigured(config: TrackingConfig): boolean {
  return Boolean(config.REDIS_URL || config.REDIS_HOST);
}

export function createRedisClient(config: TrackingConfig): Redis | null {
  if (!redisConfigured(config)) return null;
  const logger = new Logger('Redis');
  const common = {
    // Fail fast while Redis is down, so the tracker's retry queue takes over
    // instead of requests hanging in ioredis' offline queue.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 5_000,
    retryStrategy: (times: number) => Math.min(times * 200, 2_000),
    lazyConnect: false,
    // No enableAutoPipelining: while Redis is down it runs one pipeline at a
    // time, so each request waited for the previous one's retries (seconds,
    // growing; test/redis-outage.e2e-spec.ts) instead of failing over to the
    // tracker's retry queue.
  };
  const client = config.REDIS_URL
    ? new Redis(config.REDIS_URL, common)
    : new Redis({ ...common, host: config.REDIS_HOST, port: config.REDIS_PORT, password: config.REDIS_PASSWORD });
  let down = false;
  client.on('error', (err) => {
    if (!down) logger.error(`Redis unreachable: ${err.message}`);
    down = true;
  });
  client.on('ready', () => {
    if (down) logger.log('Redis reachable again');
    down = false;
  });
  return client;
}
