/**
 * The port every completeness backend implements. Abstract class = injection
 * token: `{ provide: CompletenessStore, useClass: MyStore }` swaps it.
 */
export abstract class CompletenessStore {
  /** 'redis' | 'memory' | anything a custom adapter calls itself. */
  abstract readonly kind: string;

  /** Records a successful completion of the rollout. Idempotent. */
  abstract register(rolloutId: string, insertionId: string): Promise<void>;

  /** Every id registered for the rollout; empty when the rollout is unknown. */
  abstract expectedIds(rolloutId: string): Promise<string[]>;

  /** Throws when the backend cannot be reached. */
  abstract ping(): Promise<void>;
}
