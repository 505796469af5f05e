import type { RolloutRef } from '@app/routing-metadata';
import { StoredLogEntry, StoredStatus } from './rollout-log.entry';

/** What the built-in adapters are built with (from the tracking and rollout-status settings). */
export interface RolloutLogStoreOptions {
  /** ROLLOUT_TTL_SECONDS, renewed on every write. */
  ttlSeconds: number;
  /** ROLLOUT_LOGS_MAX_ENTRIES. */
  maxEntries: number;
}

/**
 * The port every rollout-log backend implements. Pass your own to
 * GatewayModule.forRoot({ rolloutLogStore }).
 * Contract: one bounded list per rollout (per project: two projects' rollouts
 * of the same id never mix), newest first; the newest status
 * kept apart so reading it is O(1); every write renews the rollout's TTL.
 */
export abstract class RolloutLogStore {
  /** 'redis' | 'memory' | anything a custom adapter calls itself. */
  abstract readonly kind: string;

  /**
   * Prepends the entry to the rollout's list (trimmed to the configured
   * length) and, when it carries a status that is not older than the stored
   * one, makes it the rollout's status.
   */
  abstract append(rollout: RolloutRef, entry: StoredLogEntry): Promise<void>;

  /** Up to `count` entries, newest first, skipping the `offset` newest. */
  abstract range(rollout: RolloutRef, offset: number, count: number): Promise<StoredLogEntry[]>;

  /** How many entries the rollout's list holds. */
  abstract count(rollout: RolloutRef): Promise<number>;

  /** The newest status posted for the rollout, or null. */
  abstract latestStatus(rollout: RolloutRef): Promise<StoredStatus | null>;
}
