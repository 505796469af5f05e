/**
 * The answers of the rollout logs, status and progress routes. Classes
 * (decorated for /openapi.json) used as plain types: the services build
 * object literals of these shapes.
 */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { RolloutStatus } from './rollout-log.entry';

const EXTRAS = { type: 'object', additionalProperties: true, nullable: true, description: 'The entry’s `extras`, as posted (older SDKs’ other `metadata` under `extras.metadata`).' } as const;

export class LogEntryView {
  @ApiProperty({ format: 'date-time', description: 'When the gateway received the entry.' })
  timestamp: string;

  @ApiProperty({ example: 'Rollout finished' })
  message: string;

  @ApiProperty({ description: 'DEFAULT, DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL, ALERT or EMERGENCY (from `severity`, else `extras.level`, else INFO).', example: 'INFO' })
  severity: string;

  @ApiProperty({ type: [String], example: ['rollout_id:r-42'] })
  tags: string[];

  @ApiProperty({ type: () => RolloutStatus, nullable: true })
  status: RolloutStatus | null;

  @ApiProperty(EXTRAS)
  extras: Record<string, unknown> | null;

  @ApiProperty({ type: String, nullable: true, example: 'eval_protocol' })
  program: string | null;
}

export class LogListView {
  @ApiProperty({ type: [LogEntryView], description: 'Newest first.' })
  entries: LogEntryView[];

  @ApiProperty({ description: 'How many entries this answer holds.', example: 1 })
  total_entries: number;
}

export class PostedLogView {
  @ApiProperty({ enum: [true] })
  ok: true;

  @ApiProperty({ type: [String], description: 'Every rollout the entry was stored under (its `rollout_id:` tags).', example: ['r-42'] })
  rollout_ids: string[];

  @ApiProperty({ format: 'date-time' })
  timestamp: string;
}

export class StatusView {
  @ApiProperty({ example: 'r-42' })
  rollout_id: string;

  @ApiProperty({ type: () => RolloutStatus, nullable: true, description: 'The newest status posted for the rollout; null when none was. Code 101 = still running; anything else is final.' })
  status: RolloutStatus | null;

  @ApiProperty(EXTRAS)
  extras: Record<string, unknown> | null;

  /** When the gateway received the entry that set the status (ISO), or null. */
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the gateway received the entry that set the status.' })
  timestamp: string | null;
}

export class LangfuseVisibilityView {
  @ApiProperty({ type: String, nullable: true })
  project_id: string | null;

  @ApiProperty({ description: 'Recorded completions Langfuse shows now.' })
  visible: number;

  @ApiProperty({ description: 'Recorded completions.' })
  expected: number;
}

export class RolloutProgressView {
  @ApiProperty({ example: 'r-42' })
  rollout_id: string;

  /** Completions recorded for the rollout so far (ids in the completeness store, plus any queued for retry). */
  @ApiProperty({ description: 'Completions recorded for the rollout so far (including any queued for retry).', example: 8 })
  expected_completions: number;

  @ApiProperty({ type: String, nullable: true, format: 'uuid' })
  newest_insertion_id: string | null;

  /** Decoded from the UUIDv7 of newest_insertion_id. */
  @ApiProperty({ type: String, nullable: true, format: 'date-time', description: 'Decoded from the UUIDv7 of newest_insertion_id.' })
  newest_insertion_at: string | null;

  @ApiProperty({ type: () => RolloutStatus, nullable: true })
  status: RolloutStatus | null;

  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  status_updated_at: string | null;

  @ApiProperty({ example: 2 })
  log_entries: number;

  @ApiPropertyOptional({ type: () => LangfuseVisibilityView, description: 'With `?check=langfuse` only: how many recorded completions Langfuse shows.' })
  langfuse?: LangfuseVisibilityView;
}
