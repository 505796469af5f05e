import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { testRedisUrl } from '../../../test/support/redis';
import { migrateRolloutKeys } from './key-migration';
import { RedisKeys } from './redis-keys';

/** The key migration against a real Redis, in a database of its own (the scan of `original` looks at every key). */
describe('migrateRolloutKeys', () => {
  let redis: Redis;
  const prefix = `migrate-${randomUUID().slice(0, 8)}`;
  const keys = new RedisKeys(prefix);
  const ids = (n: number) => Array.from({ length: n }, () => uuidv7());

  beforeAll(async () => {
    redis = new Redis(testRedisUrl(), { db: 7 });
    await redis.flushdb();
  });
  afterAll(async () => {
    await redis.flushdb();
    await redis.quit();
  });

  it("copies the original gateway's bare rollout sets into the project's keys: a dry run first, nothing deleted, repeatable", async () => {
    const a = ids(3);
    const b = ids(2);
    await redis.sadd('rollout-a', ...a);
    await redis.sadd('roll{out}:b', ...b);
    await redis.expire('rollout-a', 3600);
    await redis.sadd('not-a-rollout', 'apple', 'pear'); // someone else's set
    await redis.set('a-string', 'x');
    await redis.sadd(keys.rollout({ projectId: 'p', rolloutId: 'done' }, 'ids'), ...ids(1)); // already today's layout

    const dry = await migrateRolloutKeys(redis, { from: 'original', prefix, project: 'proj-1', scan: true });
    expect(dry.copied.map((c) => c.from).sort()).toEqual(['roll{out}:b', 'rollout-a'].sort());
    expect(dry.skipped).toEqual([{ key: 'not-a-rollout', reason: expect.stringContaining('not all UUIDs') }]);
    expect(await redis.exists(keys.rollout({ projectId: 'proj-1', rolloutId: 'rollout-a' }, 'ids'))).toBe(0);

    await migrateRolloutKeys(redis, { from: 'original', prefix, project: 'proj-1', scan: true, apply: true });
    const newA = keys.rollout({ projectId: 'proj-1', rolloutId: 'rollout-a' }, 'ids');
    expect((await redis.smembers(newA)).sort()).toEqual([...a].sort());
    expect(await redis.ttl(newA)).toBeGreaterThan(3500);
    expect((await redis.smembers(keys.rollout({ projectId: 'proj-1', rolloutId: 'roll{out}:b' }, 'ids'))).sort()).toEqual([...b].sort());
    expect(await redis.exists('rollout-a')).toBe(1);

    // Ids recorded under the new key meanwhile are kept; running again changes nothing.
    const late = uuidv7();
    await redis.sadd(newA, late);
    await migrateRolloutKeys(redis, { from: 'original', prefix, project: 'proj-1', rollouts: ['rollout-a'], apply: true });
    expect((await redis.smembers(newA)).sort()).toEqual([...a, late].sort());
  });

  it("copies this gateway's keys from before projects were in the key (ids, logs, status), braces decoded", async () => {
    const a = ids(2);
    await redis.sadd(`${prefix}:{col%7B1%7D}:ids`, ...a);
    await redis.rpush(`${prefix}:{col%7B1%7D}:logs`, '{"message":"hi"}');
    await redis.hset(`${prefix}:{col%7B1%7D}:status`, 'ts', '1', 'value', '{"status":{"code":100}}');
    await redis.sadd(`${prefix}:{plain}:ids`, ...ids(1));
    const existing = keys.rollout({ projectId: 'proj-1', rolloutId: 'plain' }, 'logs');
    await redis.rpush(existing, '{"message":"newer"}');
    await redis.rpush(`${prefix}:{plain}:logs`, '{"message":"older"}');

    const report = await migrateRolloutKeys(redis, { from: 'prefixed', prefix, project: 'proj-1', apply: true });
    const col = (kind: string) => keys.rollout({ projectId: 'proj-1', rolloutId: 'col{1}' }, kind);
    expect((await redis.smembers(col('ids'))).sort()).toEqual([...a].sort());
    expect(await redis.lrange(col('logs'), 0, -1)).toEqual(['{"message":"hi"}']);
    expect(await redis.hget(col('status'), 'value')).toBe('{"status":{"code":100}}');
    // A log list that exists under the new key is not overwritten.
    expect(await redis.lrange(existing, 0, -1)).toEqual(['{"message":"newer"}']);
    expect(report.skipped).toEqual([{ key: `${prefix}:{plain}:logs`, reason: `${existing} exists already` }]);
    // Today's keys are not taken for old ones.
    expect(report.copied.every((c) => !c.from.includes(':{proj-1:'))).toBe(true);
  });

  it('a rollout id with a colon is migrated when named', async () => {
    await redis.sadd(`${prefix}:{eval:7}:ids`, ...ids(1));
    const scanned = await migrateRolloutKeys(redis, { from: 'prefixed', prefix, project: 'proj-2' });
    expect(scanned.copied.map((c) => c.from)).not.toContain(`${prefix}:{eval:7}:ids`);
    const named = await migrateRolloutKeys(redis, { from: 'prefixed', prefix, project: 'proj-2', rollouts: ['eval:7'], apply: true });
    expect(named.copied).toEqual([{ from: `${prefix}:{eval:7}:ids`, to: keys.rollout({ projectId: 'proj-2', rolloutId: 'eval:7' }, 'ids'), kind: 'ids', ids: 1 }]);
  });

  it('needs a project, and for the original either rollout ids or scan', async () => {
    await expect(migrateRolloutKeys(redis, { from: 'original', prefix, project: '' })).rejects.toThrow(/project=/);
    await expect(migrateRolloutKeys(redis, { from: 'original', prefix, project: 'p' })).rejects.toThrow(/rollouts=a,b.*scan=true/);
  });
});
