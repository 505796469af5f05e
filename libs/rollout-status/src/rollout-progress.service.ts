import { Injectable, Logger } from '@nestjs/common';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { RolloutTracker } from '@app/completeness-tracking';
import type { RolloutRef } from '@app/routing-metadata';
import { TraceRetrievalService } from '@app/trace-retrieval';
import { RolloutLogsService } from './rollout-logs.service';
import { RolloutProgressView } from './rollout-status.model';
import { newestUuidV7, uuidV7Time } from './uuid-v7';

/** Our own progress view of a rollout: what was recorded, what was reported, and optionally what Langfuse shows. */
@Injectable()
export class RolloutProgressService {
  private readonly logger = new Logger(RolloutProgressService.name);

  constructor(
    private readonly tracker: RolloutTracker,
    private readonly logs: RolloutLogsService,
    private readonly traces: TraceRetrievalService,
  ) {}

  /** The rollout of a project the caller may use (the controller resolved it); `checkLangfuse` counts what Langfuse shows too. */
  async progress(rollout: RolloutRef, checkLangfuse: boolean): Promise<RolloutProgressView> {
    const { rolloutId } = rollout;
    const [ids, status, logEntries] = await Promise.all([this.expectedIds(rollout), this.logs.status(rollout), this.logs.count(rollout)]);
    const newest = newestUuidV7(ids);
    const newestAt = newest === undefined ? undefined : uuidV7Time(newest);
    const view: RolloutProgressView = {
      rollout_id: rolloutId,
      expected_completions: ids.length,
      newest_insertion_id: newest ?? null,
      newest_insertion_at: newestAt === undefined ? null : new Date(newestAt).toISOString(),
      status: status.status,
      status_updated_at: status.timestamp,
      log_entries: logEntries,
    };
    if (checkLangfuse) {
      const counted = ids.length === 0 ? { visible: 0, expected: 0 } : await this.traces.countVisible(rollout.projectId, rolloutId, ids);
      view.langfuse = { project_id: rollout.projectId ?? null, visible: counted.visible, expected: counted.expected };
    }
    return view;
  }

  private async expectedIds(rollout: RolloutRef): Promise<string[]> {
    try {
      return await this.tracker.expectedIds(rollout);
    } catch (err) {
      this.logger.error(`Could not read the recorded completions of rollout ${rollout.rolloutId}: ${(err as Error).message}`);
      throw new GatewayError(GatewayErrorCode.TrackingUnavailable, 'The completeness store is unreachable: could not read the recorded completions. Retry later.');
    }
  }
}
