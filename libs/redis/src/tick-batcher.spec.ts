import Redis, { Cluster } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { testRedisUrl } from '../../../test/support/redis';
import { RedisClusterProcess } from '../../../test/support/redis-cluster';
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
    const outcomes = await Promise.allSettled([batcher.call(key, (p) => p.sadd(key, 'a')), batcher.call(key, (p) => p.incr(key)), batcher.call(key, (p) => p.scard(key))]);
    expect(outcomes[0]).toEqual({ status: 'fulfilled', value: 1 });
    expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: expect.stringMatching(/WRONGTYPE/) }) });
    expect(outcomes[2]).toEqual({ status: 'fulfilled', value: 1 });
  });

  it('with REDIS_WAIT_REPLICAS a write no replica confirms in time still counts as stored, and is reported', async () => {
    const reported: Array<[number, number]> = [];
    const batcher = new TickBatcher(redis, { replicas: 1, timeoutMs: 20, onUnconfirmed: (writes, confirmed) => reported.push([writes, confirmed]) });
    const started = Date.now();
    const outcomes = await Promise.allSettled([batcher.call(key, (p) => p.sadd(key, 'b')), batcher.call(key, (p) => p.sadd(key, 'c'))]);
    expect(outcomes).toEqual([{ status: 'fulfilled', value: 1 }, { status: 'fulfilled', value: 1 }]);
    // WAIT held the pipeline for its timeout: there is no replica here.
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    expect(reported).toEqual([[2, 0]]);
    expect((await redis.smembers(key)).sort()).toEqual(['a', 'b', 'c']);
  });

  it('with REDIS_WAIT_REPLICAS, one pipeline and one WAIT in flight at a time: what comes meanwhile goes in the next (group commit)', async () => {
    const reported: Array<[number, number]> = [];
    // WAIT holds the connection for its whole timeout (no replica here): long enough that nine event-loop turns fit in it on a busy machine.
    const batcher = new TickBatcher(redis, { replicas: 1, timeoutMs: 500, onUnconfirmed: (writes, confirmed) => reported.push([writes, confirmed]) });
    const calls = [batcher.call(key, (p) => p.sadd(key, 'd'))];
    // Nine more over the next turns, while the first WAIT holds the connection.
    for (let i = 0; i < 9; i++) {
      await new Promise((r) => setImmediate(r));
      calls.push(batcher.call(key, (p) => p.sadd(key, `e${i}`)));
    }
    await Promise.all(calls);
    expect(reported).toEqual([
      [1, 0],
      [9, 0],
    ]);
  });
});

describe('TickBatcher on a Redis Cluster with REDIS_WAIT_REPLICAS', () => {
  let cluster: RedisClusterProcess;
  let client: Cluster;
  beforeAll(async () => {
    const started = await RedisClusterProcess.create({ masters: 3, replicasPerMaster: 0 });
    if (!started) throw new Error(`This spec needs ${RedisClusterProcess.unavailable()}.`);
    cluster = started;
    client = new Cluster(cluster.startupNodes);
    await client.ping();
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  }, 30_000);

  it('keys of one turn are grouped by the master serving them: a pipeline and a WAIT per master, each caller its own reply', async () => {
    const reported: Array<[number, number]> = [];
    const batcher = new TickBatcher(client, { replicas: 1, timeoutMs: 20, onUnconfirmed: (writes, confirmed) => reported.push([writes, confirmed]) });
    // Enough hash tags to land on all three masters.
    const keys = Array.from({ length: 30 }, (_, i) => `{tag-${i}}:ids`);
    const portOf = new Map<string, number>();
    for (const k of keys) portOf.set(k, (await cluster.masterFor(k)).port);
    const masters = new Set(portOf.values());
    expect(masters.size).toBe(3);
    const replies = await Promise.all(keys.map((k) => batcher.call(k, (p) => p.sadd(k, 'x'))));
    expect(replies).toEqual(keys.map(() => 1));
    expect(reported.map(([writes]) => writes).sort((a, b) => a - b)).toEqual(
      [...masters].map((port) => keys.filter((k) => portOf.get(k) === port).length).sort((a, b) => a - b),
    );
    expect(reported.every(([, confirmed]) => confirmed === 0)).toBe(true);
    for (const k of keys) expect(await client.smembers(k)).toEqual(['x']);
  });
});

