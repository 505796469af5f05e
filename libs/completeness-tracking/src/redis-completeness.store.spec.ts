import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { testRedisUrl } from '../../../test/support/redis';
import { RedisConnection, RedisSettings } from '@app/redis';
import type { RolloutRef } from '@app/routing-metadata';
import { RedisCompletenessStore } from './redis-completeness.store';
import { TrackingSettings } from './tracking.settings';

/** The store against a real Redis: registrations of one event-loop turn share a pipeline, each with its own outcome. */
describe('RedisCompletenessStore', () => {
  let redis: Redis;
  let connection: RedisConnection;
  let store: RedisCompletenessStore;
  const prefix = `store-spec-${randomUUID().slice(0, 8)}`;
  const ref = (rolloutId: string, projectId = 'p'): RolloutRef => ({ projectId, rolloutId });

  beforeAll(() => {
    redis = new Redis(testRedisUrl());
    connection = new RedisConnection(Object.assign(new RedisSettings(), { REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix }));
    store = new RedisCompletenessStore(connection, { ROLLOUT_TTL_SECONDS: 3600 } as TrackingSettings);
  });
  afterAll(async () => {
    const stale = await redis.keys(`${prefix}:*`);
    if (stale.length) await redis.del(...stale);
    await redis.quit();
    await connection.onApplicationShutdown();
  });

  it('stores every id registered in the same turn, in its rollout, with the TTL', async () => {
    const rollouts = ['a', 'b', 'c'].map((r) => `${r}-${randomUUID()}`);
    const registered = Array.from({ length: 60 }, (_, i) => ({ rollout: rollouts[i % 3], id: `id-${i}` }));
    await Promise.all(registered.map((r) => store.register(ref(r.rollout), r.id)));
    for (const rollout of rollouts) {
      expect((await store.expectedIds(ref(rollout))).sort()).toEqual(registered.filter((r) => r.rollout === rollout).map((r) => r.id).sort());
      expect(await redis.ttl(connection.keys.rollout(ref(rollout), 'ids'))).toBeGreaterThan(3500);
    }
  });

  it('a failing registration fails alone; the others in its pipeline are stored', async () => {
    const broken = `broken-${randomUUID()}`;
    const fine = `fine-${randomUUID()}`;
    await redis.set(connection.keys.rollout(ref(broken), 'ids'), 'not a set');
    const outcomes = await Promise.allSettled([store.register(ref(fine), 'f1'), store.register(ref(broken), 'b1'), store.register(ref(fine), 'f2')]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    expect((await store.expectedIds(ref(fine))).sort()).toEqual(['f1', 'f2']);
  });

  it('a single registration in its turn is stored too', async () => {
    const rollout = `single-${randomUUID()}`;
    await store.register(ref(rollout), 'only');
    expect(await store.expectedIds(ref(rollout))).toEqual(['only']);
  });

  it('keeps projects apart, and rollout ids that only escaping tells apart', async () => {
    const a = `col{1}-${randomUUID()}`;
    const b = a.replace('{', '%7B').replace('}', '%7D');
    await store.register(ref(a, 'p1'), 'a1');
    await store.register(ref(b, 'p1'), 'b1');
    await store.register(ref(a, 'p2'), 'p2-a1');
    expect(await store.expectedIds(ref(a, 'p1'))).toEqual(['a1']);
    expect(await store.expectedIds(ref(b, 'p1'))).toEqual(['b1']);
    expect(await store.expectedIds(ref(a, 'p2'))).toEqual(['p2-a1']);
  });
});
