/**
 * A registration is tried a few times inline (fast path: one SADD). If the
 * backend stays down it moves to a bounded in-process queue that retries in
 * the background; ids waiting there still count as expected for this
 * replica's reads. Only when that queue is full does register() throw, so
 * the caller can fail loudly.
 */
import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { CompletenessStore } from './completeness.store';
import { TrackingSettings } from './tracking.settings';

const INLINE_ATTEMPTS = 2;
const RETRY_BASE_MS = 200;
const RETRY_MAX_MS = 5_000;

export interface TrackerStats {
  registered: number;
  queued: number;
  pending: number;
  retriedOk: number;
  rejected: number;
}

@Injectable()
export class RolloutTracker implements OnModuleDestroy {
  private readonly logger = new Logger(RolloutTracker.name);
  /** rolloutId → ids not yet in the store */
  private readonly pending = new Map<string, Set<string>>();
  private pendingCount = 0;
  private timer?: NodeJS.Timeout;
  private draining?: Promise<void>;
  private backoffMs = RETRY_BASE_MS;
  private readonly counters = { registered: 0, queued: 0, retriedOk: 0, rejected: 0 };

  constructor(
    readonly store: CompletenessStore,
    private readonly settings: TrackingSettings,
  ) {}

  /**
   * Records a successful completion. Resolves once the id is stored or safely
   * queued for retry; throws TrackingUnavailable when neither is possible.
   */
  async record(rolloutId: string, insertionId: string): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < INLINE_ATTEMPTS; attempt++) {
      try {
        await this.store.register(rolloutId, insertionId);
        this.counters.registered++;
        return;
      } catch (err) {
        lastError = err;
      }
    }
    if (this.pendingCount >= this.settings.REGISTRATION_QUEUE_SIZE) {
      this.counters.rejected++;
      this.logger.error(
        `Could not record insertion_id ${insertionId} of rollout ${rolloutId}: store unreachable (${errMsg(lastError)}) and retry queue full (${this.pendingCount}).`,
      );
      throw new GatewayError(
        GatewayErrorCode.TrackingUnavailable,
        'The completion succeeded but could not be recorded for completeness tracking (store unreachable, retry queue full). Retry the request.',
        { insertion_id: insertionId },
      );
    }
    this.enqueue(rolloutId, insertionId);
    this.logger.warn(`Store unreachable (${errMsg(lastError)}); insertion_id ${insertionId} of rollout ${rolloutId} queued for retry (${this.pendingCount} waiting).`);
  }

  /** Ids expected for the rollout: the store's plus those still queued here. */
  async expectedIds(rolloutId: string): Promise<string[]> {
    const stored = await this.store.expectedIds(rolloutId);
    const queued = this.pending.get(rolloutId);
    if (!queued || queued.size === 0) return stored;
    return [...new Set([...stored, ...queued])];
  }

  stats(): TrackerStats {
    return { ...this.counters, pending: this.pendingCount };
  }

  private enqueue(rolloutId: string, insertionId: string): void {
    let ids = this.pending.get(rolloutId);
    if (!ids) this.pending.set(rolloutId, (ids = new Set()));
    if (!ids.has(insertionId)) {
      ids.add(insertionId);
      this.pendingCount++;
      this.counters.queued++;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.pendingCount === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, this.backoffMs);
    this.timer.unref();
  }

  /** Retries queued ids; on the first failure backs off and waits for the next round. One drain at a time. */
  drain(): Promise<void> {
    this.draining ??= this.drainOnce().finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async drainOnce(): Promise<void> {
    for (const [rolloutId, ids] of this.pending) {
      for (const id of [...ids]) {
        try {
          await this.store.register(rolloutId, id);
        } catch (err) {
          this.backoffMs = Math.min(this.backoffMs * 2, RETRY_MAX_MS);
          this.schedule();
          return;
        }
        ids.delete(id);
        this.pendingCount--;
        this.counters.retriedOk++;
        this.counters.registered++;
      }
      // Ids of this rollout queued while we awaited are in the same set: keep them.
      if (ids.size === 0) this.pending.delete(rolloutId);
    }
    this.backoffMs = RETRY_BASE_MS;
    if (this.pendingCount > 0) {
      this.schedule(); // queued during this round, after their rollout was passed
      return;
    }
    this.logger.log('Retry queue drained: every queued registration is now stored.');
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pendingCount > 0) {
      await this.drain().catch(() => undefined);
      if (this.pendingCount > 0) {
        this.logger.error(`Shutting down with ${this.pendingCount} registration(s) not stored: ${JSON.stringify([...this.pending].map(([r, ids]) => ({ rollout_id: r, insertion_ids: [...ids] })))}`);
      }
    }
  }
}

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
