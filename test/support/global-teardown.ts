/**
 * jest globalTeardown: stop the redis-server that global-setup.ts started (if
 * it started one; a REDIS_URL or the local instance is left alone).
 */
import type { ResolvedRedis } from './redis';

export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as { __TEST_REDIS__?: ResolvedRedis };
  const redis = holder.__TEST_REDIS__;
  holder.__TEST_REDIS__ = undefined;
  if (redis) await redis.stop();
}
