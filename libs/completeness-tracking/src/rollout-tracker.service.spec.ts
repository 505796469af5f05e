import { Logger } from '@nestjs/common';
import { GatewayErrorCode } from '@app/common';
import type { RolloutRef } from '@app/routing-metadata';
import { CompletenessStore } from './completeness.store';
import { RolloutTracker } from './rollout-tracker.service';

/** A store whose backend can be switched off, standing in for a Redis outage. */
class FlakyStore extends CompletenessStore {
  readonly kind = 'flaky';
  up = true;
  readonly data = new Map<string, Set<string>>();

  async register({ rolloutId }: RolloutRef, id: string): Promise<void> {
    if (!this.up) throw new Error('connection refused');
    if (!this.data.has(rolloutId)) this.data.set(rolloutId, new Set());
    this.data.get(rolloutId)!.add(id);
  }

  async expectedIds({ rolloutId }: RolloutRef): Promise<string[]> {
    if (!this.up) throw new Error('connection refused');
    return [...(this.data.get(rolloutId) ?? [])];
  }

  async ping(): Promise<void> {
    if (!this.up) throw new Error('connection refused');
  }
}

const config = (queue: number) => ({ REGISTRATION_QUEUE_SIZE: queue, REGISTRATION_TIMEOUT_MS: 250 }) as never;
const R: RolloutRef = { projectId: 'p', rolloutId: 'r' };

describe('RolloutTracker', () => {
  it('stores directly while the backend is up', async () => {
    const store = new FlakyStore();
    const t = new RolloutTracker(store, config(10));
    await t.record(R, 'a');
    expect(await t.expectedIds(R)).toEqual(['a']);
    expect(t.stats()).toMatchObject({ registered: 1, pending: 0 });
  });

  it('queues registrations during an outage, counts them, and drains them once the backend is back', async () => {
    const store = new FlakyStore();
    const t = new RolloutTracker(store, config(10));
    store.up = false;
    await t.record(R, 'a');
    await t.record(R, 'b');
    expect(t.stats()).toMatchObject({ queued: 2, pending: 2 });
    store.up = true;
    // The queued ids count as expected even before they reach the store.
    expect((await t.expectedIds(R)).sort()).toEqual(['a', 'b']);
    await t.drain();
    expect([...store.data.get('r')!].sort()).toEqual(['a', 'b']);
    expect(t.stats()).toMatchObject({ pending: 0, retriedOk: 2 });
    await t.onModuleDestroy();
  });

  it('concurrent drains store each queued id once and keep the count right', async () => {
    const store = new FlakyStore();
    const t = new RolloutTracker(store, config(10));
    store.up = false;
    await t.record(R, 'a');
    await t.record(R, 'b');
    store.up = true;
    await Promise.all([t.drain(), t.drain(), t.drain()]);
    expect(t.stats()).toMatchObject({ pending: 0, retriedOk: 2, registered: 2 });
    await t.onModuleDestroy();
  });

  it('keeps an id queued while a drain of the same rollout is in flight', async () => {
    const store = new FlakyStore();
    const t = new RolloutTracker(store, config(10));
    store.up = false;
    await t.record(R, 'a');
    store.up = true;
    // The drain stores 'a' slowly; meanwhile the backend blips and 'b' of the same rollout is queued.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const register = store.register.bind(store);
    store.register = async (rollout, id) => {
      if (id === 'a') await gate;
      return register(rollout, id);
    };
    const draining = t.drain();
    store.up = false;
    await t.record(R, 'b');
    store.up = true;
    expect(t.stats().pending).toBe(2);
    expect(await t.expectedIds(R)).toEqual(expect.arrayContaining(['a', 'b']));
    release();
    await draining;
    // The same drain goes on to the id queued meanwhile.
    expect(store.data.get('r')).toEqual(new Set(['a', 'b']));
    expect(t.stats()).toMatchObject({ pending: 0, retriedOk: 2, rejected: 0 });
    await t.onModuleDestroy();
  });

  it('retries queued ids many at a time (one round trip per chunk), not one after another', async () => {
    const store = new FlakyStore();
    const t = new RolloutTracker(store, config(1000));
    store.up = false;
    for (let i = 0; i < 600; i++) await t.record(R, `id${i}`);
    store.up = true;
    let inFlight = 0;
    let most = 0;
    const register = store.register.bind(store);
    store.register = async (rollout, id) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return register(rollout, id);
    };
    await t.drain();
    expect(store.data.get('r')!.size).toBe(600);
    expect(t.stats()).toMatchObject({ pending: 0, retriedOk: 600 });
    expect(most).toBe(256);
    await t.onModuleDestroy();
  });

  it('fails loudly when the queue is full instead of dropping the id', async () => {
    const store = new FlakyStore();
    const t = new RolloutTracker(store, config(1));
    store.up = false;
    await t.record(R, 'a');
    await expect(t.record(R, 'b')).rejects.toMatchObject({ code: GatewayErrorCode.TrackingUnavailable });
    expect(t.stats()).toMatchObject({ rejected: 1, pending: 1 });
    store.up = true;
    await t.onModuleDestroy();
    expect([...store.data.get('r')!]).toEqual(['a']);
  });

  it('keeps retrying in the background with backoff until the store answers', async () => {
    const store = new FlakyStore();
    const t = new RolloutTracker(store, config(10));
    store.up = false;
    await t.record(R, 'x');
    setTimeout(() => (store.up = true), 300);
    const deadline = Date.now() + 5_000;
    while (t.stats().pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(t.stats().pending).toBe(0);
    expect([...store.data.get('r')!]).toEqual(['x']);
  });

  it('logs an outage once per second with a count and the rollouts, not once per id', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const store = new FlakyStore();
      const t = new RolloutTracker(store, config(1000));
      store.up = false;
      for (let i = 0; i < 50; i++) await t.record({ projectId: 'p', rolloutId: `r${i % 3}` }, `id${i}`);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toContain('insertion_id id0 of rollout r0 queued for retry');
      await new Promise((r) => setTimeout(r, 1_100));
      expect(warn).toHaveBeenCalledTimes(2);
      expect(String(warn.mock.calls[1][0])).toMatch(/49 more registration\(s\) queued for retry .*rollouts r1, r2, r0; 50 waiting/);
      store.up = true;
      await t.onModuleDestroy();
      expect(t.stats()).toMatchObject({ pending: 0, queued: 50 });
    } finally {
      warn.mockRestore();
    }
  });
});
