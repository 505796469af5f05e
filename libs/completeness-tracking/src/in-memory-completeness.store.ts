import { CompletenessStore } from './completeness.store';
import { TrackingSettings } from './tracking.settings';

/**
 * Embedded default when no Redis is configured: one process only, lost on
 * restart. Rollouts expire after the same TTL as in Redis.
 */
export class InMemoryCompletenessStore extends CompletenessStore {
  readonly kind = 'memory';
  private readonly rollouts = new Map<string, { ids: Set<string>; expiresAt: number }>();

  constructor(private readonly settings: TrackingSettings) {
    super();
  }

  async register(rolloutId: string, insertionId: string): Promise<void> {
    const now = Date.now();
    let entry = this.rollouts.get(rolloutId);
    if (!entry || entry.expiresAt <= now) {
      entry = { ids: new Set(), expiresAt: 0 };
      this.rollouts.set(rolloutId, entry);
      if (this.rollouts.size % 1024 === 0) this.sweep(now);
    }
    entry.ids.add(insertionId);
    entry.expiresAt = now + this.settings.ROLLOUT_TTL_SECONDS * 1000;
  }

  async expectedIds(rolloutId: string): Promise<string[]> {
    const entry = this.rollouts.get(rolloutId);
    if (!entry || entry.expiresAt <= Date.now()) return [];
    return [...entry.ids];
  }

  async ping(): Promise<void> {}

  private sweep(now: number): void {
    for (const [id, entry] of this.rollouts) if (entry.expiresAt <= now) this.rollouts.delete(id);
  }
}
