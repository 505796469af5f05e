/**
 * jest globalSetup: find or start a real Redis and expose its URL to the test
 * workers as TEST_REDIS_URL (workers inherit this process's environment).
 * A redis-server started here is stopped by global-teardown.ts.
 */
import { resolveOrStartRedis, ResolvedRedis } from './redis';

declare global {
  // eslint-disable-next-line no-var
  var __TEST_REDIS__: ResolvedRedis | undefined;
}

export default async function globalSetup(): Promise<void> {
  const redis = await resolveOrStartRedis();
  globalThis.__TEST_REDIS__ = redis;
  process.env.TEST_REDIS_URL = redis.url;
  if (redis.source === 'spawned') {
    process.stderr.write(`\n[test] started redis-server (pid ${redis.pid}) at ${redis.url}; global teardown stops it\n`);
  }
}
