import { ApiProperty } from '@nestjs/swagger';
import { JSON_VALUE } from '@app/common';
import { ROLLOUT_TAG_PREFIX, tagValues } from '@app/routing-metadata';

/** A rollout status as stored and returned: eval-protocol's `Status` (AIP-193 shaped). */
export class RolloutStatus {
  /** google.rpc.Code numbers, plus eval-protocol's 100 = finished and 101 = running. */
  @ApiProperty({ type: 'integer', minimum: 0, description: 'google.rpc.Code numbers, plus eval-protocol’s 100 = finished and 101 = still running.', example: 100 })
  code: number;

  @ApiProperty({ example: 'Rollout finished' })
  message: string;

  @ApiProperty({ ...JSON_VALUE, description: 'Any JSON value (`[]` when none was sent).', example: [] })
  details: unknown;
}

/** eval-protocol's own codes (eval_protocol/models.py `Status.Code`). */
export const STATUS_FINISHED = 100;
export const STATUS_RUNNING = 101;

/** One log entry as the store keeps it. `ts` is the gateway's receive time (epoch ms). */
export interface StoredLogEntry {
  /** Random id, so a reader paging through a list that grows meanwhile skips what it has seen. */
  id: string;
  ts: number;
  program: string | null;
  message: string;
  severity: string;
  tags: string[];
  status: RolloutStatus | null;
  extras: Record<string, unknown> | null;
}

/** The newest status of a rollout, with the extras of the entry that posted it. */
export interface StoredStatus {
  ts: number;
  status: RolloutStatus;
  extras: Record<string, unknown> | null;
}

/** Rollout ids named by `rollout_id:` tags, in order, without duplicates or empty ids. */
export function rolloutIdsOf(tags: readonly string[]): string[] {
  return [...new Set(tagValues(tags, ROLLOUT_TAG_PREFIX).filter(Boolean))];
}
