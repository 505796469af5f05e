/**
 * The test Redis is real and reachable, and the fallback that starts a
 * private redis-server works and cleans up after itself.
 */
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { findRedisServer, NO_REDIS_MESSAGE, pingRedis, resolveOrStartRedis, testRedisUrl } from './redis';

const UNREACHABLE = 'redis://127.0.0.1:1';

it('TEST_REDIS_URL points at a real Redis (SET/GET a namespaced key)', async () => {
  const url = testRedisUrl();
  expect(await pingRedis(url)).toBeUndefined();
  const redis = new Redis(url);
  const key = `test:redis-spec:${randomUUID()}`;
  try {
    expect(await redis.set(key, 'hello', 'PX', 10_000)).toBe('OK');
    expect(await redis.get(key)).toBe('hello');
  } finally {
    await redis.del(key);
    redis.disconnect();
  }
});

it('pingRedis reports an unreachable server quickly instead of hanging', async () => {
  const t0 = Date.now();
  expect(await pingRedis(UNREACHABLE, 500)).toEqual(expect.any(String));
  expect(Date.now() - t0).toBeLessThan(2000);
});

it('an unreachable REDIS_URL fails with a message naming REDIS_URL (no silent fallback)', async () => {
  await expect(resolveOrStartRedis({ env: { REDIS_URL: 'redis://:s3cret@127.0.0.1:1/0', PATH: process.env.PATH } })).rejects.toThrow(
    /REDIS_URL \(redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0\) is set but Redis does not answer PING/,
  );
});

it('a reachable REDIS_URL is used as is', async () => {
  const resolved = await resolveOrStartRedis({ env: { REDIS_URL: testRedisUrl() }, localUrl: UNREACHABLE });
  expect(resolved).toEqual(expect.objectContaining({ url: testRedisUrl(), source: 'env' }));
  await resolved.stop(); // a no-op: never stops a Redis it did not start
  expect(await pingRedis(testRedisUrl())).toBeUndefined();
});

it('no REDIS_URL, nothing local, no redis-server on PATH → the clear "Tests need Redis" message', async () => {
  await expect(resolveOrStartRedis({ env: { PATH: '/nonexistent-dir' }, localUrl: UNREACHABLE })).rejects.toThrow(NO_REDIS_MESSAGE);
});

it('with nothing reachable, starts its own redis-server on a free port and stops it', async () => {
  if (!findRedisServer()) {
    console.warn('redis.spec: redis-server is not on PATH, so the spawning path is not exercised here (apt-get install redis-server to run it).');
    return;
  }
  const resolved = await resolveOrStartRedis({ env: { PATH: process.env.PATH }, localUrl: UNREACHABLE });
  expect(resolved.source).toBe('spawned');
  expect(resolved.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
  expect(resolved.url).not.toBe('redis://127.0.0.1:6379');
  const pid = resolved.pid!;
  expect(pid).toBeGreaterThan(0);

  const redis = new Redis(resolved.url);
  try {
    await redis.set('test:redis-spec:spawned', 'yes');
    expect(await redis.get('test:redis-spec:spawned')).toBe('yes');
    const config = await redis.config('GET', 'save');
    expect(config).toEqual(['save', '']);
    const dir = ((await redis.config('GET', 'dir')) as string[])[1];
    expect(existsSync(dir)).toBe(true);
    await redis.quit();

    await resolved.stop();
    expect(await pingRedis(resolved.url, 500)).toEqual(expect.any(String));
    expect(() => process.kill(pid, 0)).toThrow(); // the process is gone
    expect(existsSync(dir)).toBe(false); // and its temp dir
  } finally {
    if (redis.status !== 'end') redis.disconnect();
    await resolved.stop();
  }
});
