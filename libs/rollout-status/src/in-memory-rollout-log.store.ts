import type { RolloutRef } from '@app/routing-metadata';
import { StoredLogEntry, StoredStatus } from './rollout-log.entry';
import { RolloutLogStore, RolloutLogStoreOptions } from './rollout-log.store';

interface RolloutLogs {
  /** Newest first, at most maxEntries. */
  entries: StoredLogEntry[];
  status: StoredStatus | null;
  expiresAt: number;
}

/**
 * Embedded default when no Redis is configured: one process only, lost on
 * restart. Behaves like the Redis adapter: bounded list, newest status kept
 * apart (older statuses never overwrite newer ones), TTL renewed on write.
 */
export class InMemoryRolloutLogStore extends RolloutLogStore {
  readonly kind = 'memory';
  private readonly rollouts = new Map<string, RolloutLogs>();
  private writes = 0;

  constructor(
    private readonly options: RolloutLogStoreOptions,
    private readonly clock: () => number = Date.now,
  ) {
    super();
  }

  async append(rollout: RolloutRef, entry: StoredLogEntry): Promise<void> {
    const key = keyOf(rollout);
    const now = this.clock();
    let logs = this.live(key, now);
    if (!logs) {
      logs = { entries: [], status: null, expiresAt: 0 };
      this.rollouts.set(key, logs);
    }
    logs.entries.unshift(structuredClone(entry));
    if (logs.entries.length > this.options.maxEntries) logs.entries.length = this.options.maxEntries;
    if (entry.status && (!logs.status || logs.status.ts <= entry.ts)) {
      logs.status = structuredClone({ ts: entry.ts, status: entry.status, extras: entry.extras });
    }
    logs.expiresAt = now + this.options.ttlSeconds * 1000;
    if (++this.writes % 1024 === 0) this.sweep(now);
  }

  async range(rollout: RolloutRef, offset: number, count: number): Promise<StoredLogEntry[]> {
    const logs = this.live(keyOf(rollout), this.clock());
    if (!logs || count <= 0) return [];
    return structuredClone(logs.entries.slice(offset, offset + count));
  }

  async count(rollout: RolloutRef): Promise<number> {
    return this.live(keyOf(rollout), this.clock())?.entries.length ?? 0;
  }

  async latestStatus(rollout: RolloutRef): Promise<StoredStatus | null> {
    const status = this.live(keyOf(rollout), this.clock())?.status;
    return status ? structuredClone(status) : null;
  }

  private live(key: string, now: number): RolloutLogs | undefined {
    const logs = this.rollouts.get(key);
    if (logs && logs.expiresAt <= now) {
      this.rollouts.delete(key);
      return undefined;
    }
    return logs;
  }

  private sweep(now: number): void {
    for (const [id, logs] of this.rollouts) if (logs.expiresAt <= now) this.rollouts.delete(id);
  }
}

/** One map key per (project, rollout), injective. */
function keyOf(rollout: RolloutRef): string {
  return JSON.stringify([rollout.projectId ?? '', rollout.rolloutId]);
}
