import { Injectable, Logger } from '@nestjs/common';
import { AccountInfo, assertProjectAccess } from '@app/auth';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { RolloutTracker } from '@app/completeness-tracking';
import { CredentialVault } from '@app/credential-vault';
import { TraceRetrievalService } from '@app/trace-retrieval';
import { RolloutStatus } from './rollout-log.entry';
import { RolloutLogsService } from './rollout-logs.service';
import { newestUuidV7, uuidV7Time } from './uuid-v7';

export interface RolloutProgressView {
  rollout_id: string;
  /** Completions recorded for the rollout so far (ids in the completeness store, plus any queued for retry). */
  expected_completions: number;
  newest_insertion_id: string | null;
  /** Decoded from the UUIDv7 of newest_insertion_id. */
  newest_insertion_at: string | null;
  status: RolloutStatus | null;
  status_updated_at: string | null;
  log_entries: number;
  langfuse?: { project_id: string | null; visible: number; expected: number };
}

/** Our own progress view of a rollout: what was recorded, what was reported, and optionally what Langfuse shows. */
@Injectable()
export class RolloutProgressService {
  private readonly logger = new Logger(RolloutProgressService.name);

  constructor(
    private readonly tracker: RolloutTracker,
    private readonly logs: RolloutLogsService,
    private readonly traces: TraceRetrievalService,
    private readonly vault: CredentialVault,
  ) {}

  async progress(rolloutId: string, account: AccountInfo, check?: { projectId?: string }): Promise<RolloutProgressView> {
    // Scope first, so a key without access learns nothing about the rollout.
    if (check) assertProjectAccess(account, check.projectId ?? this.vault.defaultProjectId);
    const [ids, status, logEntries] = await Promise.all([this.expectedIds(rolloutId), this.logs.status(rolloutId), this.logs.count(rolloutId)]);
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
    if (check) {
      const counted = ids.length === 0 ? { visible: 0, expected: 0 } : await this.traces.countVisible(check.projectId, rolloutId, ids);
      view.langfuse = { project_id: check.projectId ?? this.vault.defaultProjectId ?? null, visible: counted.visible, expected: counted.expected };
    }
    return view;
  }

  private async expectedIds(rolloutId: string): Promise<string[]> {
    try {
      return await this.tracker.expectedIds(rolloutId);
    } catch (err) {
      this.logger.error(`Could not read the recorded completions of rollout ${rolloutId}: ${(err as Error).message}`);
      throw new GatewayError(GatewayErrorCode.TrackingUnavailable, 'The completeness store is unreachable: could not read the recorded completions. Retry later.');
    }
  }
}
