import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { testRedisUrl } from '../../../test/support/redis';
import { RedisKeys } from '@app/redis';
import { RedisCompletenessStore } from './redis-completeness.store';
import { TrackingSettings } from './tracking.settings';

/** The store against a real Redis: registrations of one event-loop turn share a pipeline, each with its own outcome. */
describe('RedisCompletenessStore', () => {
  let redis: Redis;
  let store: RedisCompletenessStore;
  const prefix = `store-spec-${randomUUID().slice(0, 8)}`;
  const keys = new RedisKeys(prefix);

  beforeAll(() => {
    redis = new Redis(testRedisUrl());
    store = new RedisCompletenessStore(redis, keys, { ROLLOUT_TTL_SECONDS: 3600 } as TrackingSettings);
  });
  afterAll(async () => {
    const stale = await redis.keys(`${prefix}:*`);
    if (stale.length) await redis.del(...stale);
    await redis.quit();
  });

  it('stores every id registered in the same turn, in its rollout, with the TTL', async () => {
    const rollouts = ['a', 'b', 'c'].map((r) => `${r}-${randomUUID()}`);
    const registered = Array.from({ length: 60 }, (_, i) => ({ rollout: rollouts[i % 3], id: `id-${i}` }));
    await Promise.all(registered.map((r) => store.register(r.rollout, r.id)));
    for (const rollout of rollouts) {
      expect((await store.expectedIds(rollout)).sort()).toEqual(registered.filter((r) => r.rollout === rollout).map((r) => r.id).sort());
      expect(await redis.ttl(keys.rollout(rollout, 'ids'))).toBeGreaterThan(3500);
    }
  });

  it('a failing registration fails alone; the others in its pipeline are stored', async () => {
    const broken = `broken-${randomUUID()}`;
    const fine = `fine-${randomUUID()}`;
    await redis.set(keys.rollout(broken, 'ids'), 'not a set');
    const outcomes = await Promise.allSettled([store.register(fine, 'f1'), store.register(broken, 'b1'), store.register(fine, 'f2')]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    expect((await store.expectedIds(fine)).sort()).toEqual(['f1', 'f2']);
  });

  it('a single registration in its turn is stored too', async () => {
    const rollout = `single-${randomUUID()}`;
    await store.register(rollout, 'only');
    expect(await store.expectedIds(rollout)).toEqual(['only']);
  });
});
