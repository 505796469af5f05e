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

  async append(rolloutId: string, entry: StoredLogEntry): Promise<void> {
    const now = this.clock();
    let logs = this.live(rolloutId, now);
    if (!logs) {
      logs = { entries: [], status: null, expiresAt: 0 };
      this.rollouts.set(rolloutId, logs);
    }
    logs.entries.unshift(structuredClone(entry));
    if (logs.entries.length > this.options.maxEntries) logs.entries.length = this.options.maxEntries;
    if (entry.status && (!logs.status || logs.status.ts <= entry.ts)) {
      logs.status = structuredClone({ ts: entry.ts, status: entry.status, extras: entry.extras });
    }
    logs.expiresAt = now + this.options.ttlSeconds * 1000;
    if (++this.writes % 1024 === 0) this.sweep(now);
  }

  async range(rolloutId: string, offset: number, count: number): Promise<StoredLogEntry[]> {
    const logs = this.live(rolloutId, this.clock());
    if (!logs || count <= 0) return [];
    return structuredClone(logs.entries.slice(offset, offset + count));
  }

  async count(rolloutId: string): Promise<number> {
    return this.live(rolloutId, this.clock())?.entries.length ?? 0;
  }

  async latestStatus(rolloutId: string): Promise<StoredStatus | null> {
    const status = this.live(rolloutId, this.clock())?.status;
    return status ? structuredClone(status) : null;
  }

  private live(rolloutId: string, now: number): RolloutLogs | undefined {
    const logs = this.rollouts.get(rolloutId);
    if (logs && logs.expiresAt <= now) {
      this.rollouts.delete(rolloutId);
      return undefined;
    }
    return logs;
  }

  private sweep(now: number): void {
    for (const [id, logs] of this.rollouts) if (logs.expiresAt <= now) this.rollouts.delete(id);
  }
}
