import { StoredLogEntry } from './rollout-log.entry';
import { InMemoryRolloutLogStore } from './in-memory-rollout-log.store';

let seq = 0;
const entry = (ts: number, code?: number): StoredLogEntry => ({
  id: `e${++seq}`,
  ts,
  program: 'p',
  message: `m${ts}`,
  severity: 'INFO',
  tags: ['rollout_id:r'],
  status: code === undefined ? null : { code, message: '', details: [] },
  extras: { at: ts },
});

describe('InMemoryRolloutLogStore', () => {
  let now = 1_000_000;
  const store = () => new InMemoryRolloutLogStore({ ttlSeconds: 60, maxEntries: 3 }, () => now);

  it('keeps the newest entries first, bounded to maxEntries', async () => {
    const s = store();
    for (let i = 1; i <= 5; i++) await s.append({ projectId: 'p', rolloutId: 'r' }, entry(i));
    expect((await s.range({ projectId: 'p', rolloutId: 'r' }, 0, 10)).map((e) => e.ts)).toEqual([5, 4, 3]);
    expect((await s.range({ projectId: 'p', rolloutId: 'r' }, 1, 1)).map((e) => e.ts)).toEqual([4]);
    expect(await s.count({ projectId: 'p', rolloutId: 'r' })).toBe(3);
    expect(await s.range({ projectId: 'p', rolloutId: 'other' }, 0, 10)).toEqual([]);
  });

  it('keeps the newest status apart; an older status never overwrites a newer one', async () => {
    const s = store();
    await s.append({ projectId: 'p', rolloutId: 'r' }, entry(10, 101));
    await s.append({ projectId: 'p', rolloutId: 'r' }, entry(30, 100));
    await s.append({ projectId: 'p', rolloutId: 'r' }, entry(20, 101));
    await s.append({ projectId: 'p', rolloutId: 'r' }, entry(40));
    expect(await s.latestStatus({ projectId: 'p', rolloutId: 'r' })).toEqual({ ts: 30, status: { code: 100, message: '', details: [] }, extras: { at: 30 } });
    expect(await s.latestStatus({ projectId: 'p', rolloutId: 'none' })).toBeNull();
  });

  it('expires a rollout after the TTL, renewed by each write', async () => {
    const s = store();
    now = 1_000_000;
    await s.append({ projectId: 'p', rolloutId: 'r' }, entry(1, 101));
    now += 50_000;
    await s.append({ projectId: 'p', rolloutId: 'r' }, entry(2));
    now += 50_000;
    expect(await s.count({ projectId: 'p', rolloutId: 'r' })).toBe(2);
    expect((await s.latestStatus({ projectId: 'p', rolloutId: 'r' }))?.status.code).toBe(101);
    now += 10_001;
    expect(await s.count({ projectId: 'p', rolloutId: 'r' })).toBe(0);
    expect(await s.latestStatus({ projectId: 'p', rolloutId: 'r' })).toBeNull();
  });

  it('returns copies, so callers cannot change what is stored', async () => {
    const s = store();
    await s.append({ projectId: 'p', rolloutId: 'r' }, entry(1));
    (await s.range({ projectId: 'p', rolloutId: 'r' }, 0, 1))[0].tags.push('x');
    expect((await s.range({ projectId: 'p', rolloutId: 'r' }, 0, 1))[0].tags).toEqual(['rollout_id:r']);
  });

  it('keeps projects apart: the same rollout id in two projects is two rollouts', async () => {
    const s = store();
    await s.append({ projectId: 'a', rolloutId: 'r' }, entry(1, 101));
    await s.append({ projectId: 'b', rolloutId: 'r' }, entry(2, 100));
    expect(await s.count({ projectId: 'a', rolloutId: 'r' })).toBe(1);
    expect((await s.latestStatus({ projectId: 'a', rolloutId: 'r' }))?.status.code).toBe(101);
    expect((await s.latestStatus({ projectId: 'b', rolloutId: 'r' }))?.status.code).toBe(100);
    expect(await s.count({ rolloutId: 'r' })).toBe(0);
  });
});
