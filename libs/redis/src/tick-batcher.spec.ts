import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { testRedisUrl } from '../../../test/support/redis';
import { TickBatcher } from './tick-batcher';

/** The batcher against a real Redis (the test one has no replicas: WAIT confirms 0). */
describe('TickBatcher', () => {
  let redis: Redis;
  const key = `tick-batcher-spec-${randomUUID()}`;
  beforeAll(() => (redis = new Redis(testRedisUrl())));
  afterAll(async () => {
    await redis.del(key);
    await redis.quit();
  });

  it('one pipeline per turn, each caller its own reply or error', async () => {
    const batcher = new TickBatcher(redis);
    const outcomes = await Promise.allSettled([batcher.call((p) => p.sadd(key, 'a')), batcher.call((p) => p.incr(key)), batcher.call((p) => p.scard(key))]);
    expect(outcomes[0]).toEqual({ status: 'fulfilled', value: 1 });
    expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: expect.stringMatching(/WRONGTYPE/) }) });
    expect(outcomes[2]).toEqual({ status: 'fulfilled', value: 1 });
  });

  it('with REDIS_WAIT_REPLICAS a write that no replica confirms is refused (the caller keeps it), though Redis applied it', async () => {
    const batcher = new TickBatcher(redis, { replicas: 1, timeoutMs: 20 });
    const outcomes = await Promise.allSettled([batcher.call((p) => p.sadd(key, 'b')), batcher.call((p) => p.sadd(key, 'c'))]);
    for (const o of outcomes) expect(o).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: 'only 0 of 1 replica(s) confirmed the write within 20 ms (REDIS_WAIT_REPLICAS)' }) });
    expect((await redis.smembers(key)).sort()).toEqual(['a', 'b', 'c']);
  });
});
