import type { RolloutRef } from '@app/routing-metadata';

/**
 * The port every completeness backend implements. Pass your own to
 * GatewayModule.forRoot({ completenessStore }). A rollout is its project and
 * its id (RolloutRef): two projects' rollouts of the same id never mix.
 */
export abstract class CompletenessStore {
  /** 'redis' | 'memory' | anything a custom adapter calls itself. */
  abstract readonly kind: string;

  /** Records a successful completion of the rollout. Idempotent. */
  abstract register(rollout: RolloutRef, insertionId: string): Promise<void>;

  /** Every id registered for the rollout; empty when the rollout is unknown. */
  abstract expectedIds(rollout: RolloutRef): Promise<string[]>;

  /** Throws when the backend cannot be reached. */
  abstract ping(): Promise<void>;

  /**
   * False while the backend is known to be unreachable (a disconnected
   * client): the tracker then queues a registration at once instead of
   * waiting for a command to fail.
   */
  get reachable(): boolean {
    return true;
  }
}
