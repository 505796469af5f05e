/**
 * A registration goes to the store at once, unless the store is known to be
 * unreachable or does not confirm within REGISTRATION_TIMEOUT_MS (250 ms):
 * then it moves to a bounded in-process queue that retries in the
 * background; ids waiting there still count as expected for this replica's
 * reads. Only when that queue is full does record() throw, so the caller can
 * fail loudly. A gateway that stops with ids still queued writes them to the
 * spool; the next gateway to start with that spool registers them.
 */
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { GatewayError, GatewayErrorCode, withDeadline } from '@app/common';
import { refKey, RolloutRef } from '@app/routing-metadata';
import { Spool, SpooledBatch } from '@app/spool';
import { CompletenessStore } from './completeness.store';
import { TrackingSettings } from './tracking.settings';

const RETRY_BASE_MS = 200;
const RETRY_MAX_MS = 5_000;
/** Queued ids retried at once. */
const DRAIN_CHUNK = 256;
const SPOOL_KIND = 'registrations';
const REPORT_WINDOW_MS = 1_000;
const REPORT_ROLLOUTS = 5;

export interface TrackerStats {
  registered: number;
  queued: number;
  pending: number;
  retriedOk: number;
  rejected: number;
}

/** One registration as the spool keeps it. */
interface SpooledRegistration {
  projectId?: string;
  rolloutId: string;
  trail?: boolean;
  insertionId: string;
}

interface PendingRollout {
  ref: RolloutRef;
  ids: Set<string>;
}

@Injectable()
export class RolloutTracker implements OnModuleDestroy, OnApplicationBootstrap {
  private readonly logger = new Logger(RolloutTracker.name);
  /** refKey(rollout) → ids not yet in the store */
  private readonly pending = new Map<string, PendingRollout>();
  private pendingCount = 0;
  private timer?: NodeJS.Timeout;
  private draining?: Promise<void>;
  private backoffMs = RETRY_BASE_MS;
  private readonly counters = { registered: 0, queued: 0, retriedOk: 0, rejected: 0 };
  /** Set at shutdown: the last drain runs then, and nothing is scheduled after it. */
  private closed = false;
  /** Spool files taken over at start, deleted once their ids are stored (or written again at shutdown). */
  private spooled: SpooledBatch<SpooledRegistration>[] = [];
  /** Queued ids not logged one by one yet, reported together when the window ends. */
  private queuedReport?: { count: number; rollouts: Set<string>; moreRollouts: boolean; timer?: NodeJS.Timeout };

  constructor(
    readonly store: CompletenessStore,
    private readonly settings: TrackingSettings,
    @Optional() private readonly spool?: Spool,
  ) {}

  /**
   * Records a successful completion. Resolves once the id is stored or safely
   * queued for retry; throws TrackingUnavailable when neither is possible.
   */
  async record(rollout: RolloutRef, insertionId: string): Promise<void> {
    // Not an Error made up front: capturing its stack on every call cost more than the rest of record().
    let failure: unknown = 'the store is unreachable';
    if (this.store.reachable) {
      try {
        await withDeadline(this.store.register(rollout, insertionId), this.settings.REGISTRATION_TIMEOUT_MS);
        this.counters.registered++;
        return;
      } catch (err) {
        failure = err;
      }
    }
    if (this.pendingCount >= this.settings.REGISTRATION_QUEUE_SIZE) {
      this.counters.rejected++;
      this.logger.error(
        `Could not record insertion_id ${insertionId} of rollout ${rollout.rolloutId} (project ${rollout.projectId ?? '-'}): store unreachable (${errMsg(failure)}) and retry queue full (${this.pendingCount}).`,
      );
      throw new GatewayError(
        GatewayErrorCode.TrackingUnavailable,
        'The completion succeeded but could not be recorded for completeness tracking (store unreachable, retry queue full). Retry the request.',
        { insertion_id: insertionId },
      );
    }
    if (this.enqueue(rollout, insertionId)) this.counters.queued++;
    this.reportQueued(rollout, insertionId, failure);
  }

  /**
   * One warning per outage second, not one per call: the first queued id is
   * logged at once, the rest of that second as a count with the rollouts.
   */
  private reportQueued(rollout: RolloutRef, insertionId: string, failure: unknown): void {
    const w = this.queuedReport;
    if (w) {
      w.count++;
      if (w.rollouts.size < REPORT_ROLLOUTS) w.rollouts.add(rollout.rolloutId);
      else w.moreRollouts = true;
      return;
    }
    this.logger.warn(`Store unreachable (${errMsg(failure)}); insertion_id ${insertionId} of rollout ${rollout.rolloutId} queued for retry (${this.pendingCount} waiting).`);
    const report = { count: 0, rollouts: new Set<string>(), moreRollouts: false, timer: undefined as NodeJS.Timeout | undefined };
    report.timer = setTimeout(() => {
      this.queuedReport = undefined;
      if (report.count === 0) return;
      const names = [...report.rollouts].join(', ') + (report.moreRollouts ? ', …' : '');
      this.logger.warn(`Store still unreachable: ${report.count} more registration(s) queued for retry in the last ${REPORT_WINDOW_MS / 1000} s (rollouts ${names}; ${this.pendingCount} waiting).`);
    }, REPORT_WINDOW_MS);
    report.timer.unref();
    this.queuedReport = report;
  }

  /** Ids expected for the rollout: the store's plus those still queued here. */
  async expectedIds(rollout: RolloutRef): Promise<string[]> {
    const stored = await this.store.expectedIds(rollout);
    const queued = this.pending.get(refKey(rollout))?.ids;
    if (!queued || queued.size === 0) return stored;
    return [...new Set([...stored, ...queued])];
  }

  stats(): TrackerStats {
    return { ...this.counters, pending: this.pendingCount };
  }

  /** Takes over what a gateway that stopped during an outage left in the spool. */
  onApplicationBootstrap(): void {
    if (!this.spool) return;
    this.spooled = this.spool.take<SpooledRegistration>(SPOOL_KIND);
    let taken = 0;
    for (const batch of this.spooled) for (const r of batch.items) if (this.enqueue(refOf(r), r.insertionId)) taken++;
    if (this.spooled.length > 0) {
      this.logger.log(`Took over ${taken} registration(s) from ${this.spooled.length} spool file(s) in ${this.spool.dir}; storing them now.`);
      void this.drain();
    }
  }

  /** Adds an id to the retry queue; false if it was already there. */
  private enqueue(rollout: RolloutRef, insertionId: string): boolean {
    const key = refKey(rollout);
    let entry = this.pending.get(key);
    if (!entry) this.pending.set(key, (entry = { ref: refOf(rollout), ids: new Set() }));
    if (entry.ids.has(insertionId)) return false;
    entry.ids.add(insertionId);
    this.pendingCount++;
    this.schedule();
    return true;
  }

  private schedule(): void {
    if (this.closed || this.timer || this.pendingCount === 0) return;
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
    if (this.pendingCount === 0) {
      for (const batch of this.spooled.splice(0)) batch.done();
      return;
    }
    for (const [key, entry] of this.pending) {
      // A chunk of ids at a time, concurrently: one round trip (one WAIT with
      // REDIS_WAIT_REPLICAS) per chunk instead of one per id.
      while (entry.ids.size > 0) {
        const chunk = [...entry.ids].slice(0, DRAIN_CHUNK);
        const results = await Promise.allSettled(chunk.map((id) => withDeadline(this.store.register(entry.ref, id), Math.max(this.settings.REGISTRATION_TIMEOUT_MS, 2_000))));
        results.forEach((r, i) => {
          if (r.status !== 'fulfilled' || !entry.ids.delete(chunk[i])) return;
          this.pendingCount--;
          this.counters.retriedOk++;
          this.counters.registered++;
        });
        if (results.some((r) => r.status === 'rejected')) {
          if (entry.ids.size === 0) this.pending.delete(key);
          this.backoffMs = Math.min(this.backoffMs * 2, RETRY_MAX_MS);
          this.schedule();
          return;
        }
      }
      // Ids of this rollout queued while we awaited are in the same set: keep them.
      if (entry.ids.size === 0) this.pending.delete(key);
    }
    this.backoffMs = RETRY_BASE_MS;
    if (this.pendingCount > 0) {
      this.schedule(); // queued during this round, after their rollout was passed
      return;
    }
    for (const batch of this.spooled.splice(0)) batch.done();
    this.logger.log('Retry queue drained: every queued registration is now stored.');
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queuedReport?.timer) clearTimeout(this.queuedReport.timer);
    const unreported = this.queuedReport?.count ?? 0;
    this.queuedReport = undefined;
    if (unreported > 0) this.logger.warn(`${unreported} more registration(s) were queued for retry since the last report.`);
    if (this.pendingCount === 0) return;
    await this.drain().catch(() => undefined);
    if (this.pendingCount === 0) return;
    const left: SpooledRegistration[] = [];
    for (const { ref, ids } of this.pending.values()) {
      for (const insertionId of ids) left.push({ projectId: ref.projectId, rolloutId: ref.rolloutId, ...(ref.trail ? { trail: true } : {}), insertionId });
    }
    const file = this.spool?.write(SPOOL_KIND, left);
    if (file) {
      // The new file holds everything the taken-over ones did that is not stored yet.
      for (const batch of this.spooled.splice(0)) batch.done();
      this.logger.warn(`Shutting down with ${left.length} registration(s) not stored (store unreachable): written to ${file}; the next gateway to start with this SPOOL_DIR stores them.`);
    } else {
      this.logger.error(`Shutting down with ${left.length} registration(s) not stored and no spool to keep them: ${JSON.stringify(left)}`);
    }
  }
}


/** A RolloutRef of its own (not the caller's object). */
function refOf(r: RolloutRef): RolloutRef {
  return r.trail ? { projectId: r.projectId, rolloutId: r.rolloutId, trail: true } : { projectId: r.projectId, rolloutId: r.rolloutId };
}

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
