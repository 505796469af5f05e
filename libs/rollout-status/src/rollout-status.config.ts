import { registerAs } from '@nestjs/config';
import { IsInt, Max, Min } from 'class-validator';
import { validateConfig } from '@app/common';

export class RolloutStatusConfig {
  /** Log entries kept per rollout (newest first); older ones are trimmed on write. */
  @IsInt()
  @Min(1)
  @Max(100_000)
  ROLLOUT_LOGS_MAX_ENTRIES: number = 1000;

  /** Longest accepted `message` of one log entry, in characters. */
  @IsInt()
  @Min(1)
  ROLLOUT_LOG_MAX_MESSAGE_CHARS: number = 32_768;

  /** Most `tags` one log entry may carry. */
  @IsInt()
  @Min(1)
  @Max(10_000)
  ROLLOUT_LOG_MAX_TAGS: number = 64;

  /** Largest accepted log entry, measured as the UTF-8 bytes of its JSON body. */
  @IsInt()
  @Min(1024)
  ROLLOUT_LOG_MAX_ENTRY_BYTES: number = 65_536;
}

export const rolloutStatusConfig = registerAs('rolloutStatus', () => validateConfig(RolloutStatusConfig, {
  ROLLOUT_LOGS_MAX_ENTRIES: process.env.ROLLOUT_LOGS_MAX_ENTRIES,
  ROLLOUT_LOG_MAX_MESSAGE_CHARS: process.env.ROLLOUT_LOG_MAX_MESSAGE_CHARS,
  ROLLOUT_LOG_MAX_TAGS: process.env.ROLLOUT_LOG_MAX_TAGS,
  ROLLOUT_LOG_MAX_ENTRY_BYTES: process.env.ROLLOUT_LOG_MAX_ENTRY_BYTES,
}));

export type RolloutStatusLimits = Pick<
  RolloutStatusConfig,
  'ROLLOUT_LOG_MAX_MESSAGE_CHARS' | 'ROLLOUT_LOG_MAX_TAGS' | 'ROLLOUT_LOG_MAX_ENTRY_BYTES'
>;
