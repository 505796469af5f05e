import { refKey, RolloutRef } from '@app/routing-metadata';
import { CompletenessStore } from './completeness.store';
import { TrackingSettings } from './tracking.settings';

interface Entry {
  ids: Set<string>;
  expiresAt: number;
}

/**
 * Embedded default when no Redis is configured: one process only, lost on
 * restart. Rollouts (and trails) expire after the same TTL as in Redis, and
 * are kept per project as there.
 */
export class InMemoryCompletenessStore extends CompletenessStore {
  readonly kind = 'memory';
  /** refKey(rollout) → ids */
  private readonly entries = new Map<string, Entry>();
  private writes = 0;

  constructor(private readonly settings: TrackingSettings) {
    super();
  }

  async register(rollout: RolloutRef, insertionId: string): Promise<void> {
    const now = Date.now();
    const key = refKey(rollout);
    let entry = this.entries.get(key);
    if (!entry || entry.expiresAt <= now) {
      entry = { ids: new Set(), expiresAt: 0 };
      this.entries.set(key, entry);
    }
    entry.ids.add(insertionId);
    entry.expiresAt = now + this.settings.ROLLOUT_TTL_SECONDS * 1000;
    if (++this.writes % 1024 === 0) this.sweep(now);
  }

  async expectedIds(rollout: RolloutRef): Promise<string[]> {
    const entry = this.entries.get(refKey(rollout));
    if (!entry || entry.expiresAt <= Date.now()) return [];
    return [...entry.ids];
  }

  async ping(): Promise<void> {}

  private sweep(now: number): void {
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
