import type { RolloutRef } from '@app/routing-metadata';
import { CompletenessStore } from './completeness.store';
import { TrackingSettings } from './tracking.settings';

interface Entry {
  ids: Set<string>;
  expiresAt: number;
}

/**
 * Embedded default when no Redis is configured: one process only, lost on
 * restart. Rollouts expire after the same TTL as in Redis, and are kept per
 * project as there.
 */
export class InMemoryCompletenessStore extends CompletenessStore {
  readonly kind = 'memory';
  /** project ('' = none) → rollout → ids */
  private readonly projects = new Map<string, Map<string, Entry>>();
  private writes = 0;

  constructor(private readonly settings: TrackingSettings) {
    super();
  }

  async register(rollout: RolloutRef, insertionId: string): Promise<void> {
    const now = Date.now();
    const project = rollout.projectId ?? '';
    let rollouts = this.projects.get(project);
    if (!rollouts) this.projects.set(project, (rollouts = new Map()));
    let entry = rollouts.get(rollout.rolloutId);
    if (!entry || entry.expiresAt <= now) {
      entry = { ids: new Set(), expiresAt: 0 };
      rollouts.set(rollout.rolloutId, entry);
    }
    entry.ids.add(insertionId);
    entry.expiresAt = now + this.settings.ROLLOUT_TTL_SECONDS * 1000;
    if (++this.writes % 1024 === 0) this.sweep(now);
  }

  async expectedIds(rollout: RolloutRef): Promise<string[]> {
    const entry = this.projects.get(rollout.projectId ?? '')?.get(rollout.rolloutId);
    if (!entry || entry.expiresAt <= Date.now()) return [];
    return [...entry.ids];
  }

  async ping(): Promise<void> {}

  private sweep(now: number): void {
    for (const rollouts of this.projects.values()) for (const [id, entry] of rollouts) if (entry.expiresAt <= now) rollouts.delete(id);
  }
}
