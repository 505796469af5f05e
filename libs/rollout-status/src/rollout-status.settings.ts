import { IsInt, Max, Min } from 'class-validator';
import { Setting, Settings } from '@app/settings';

@Settings('Rollout logs and status (/logs, /status, /rollouts)', 70)
export class RolloutStatusSettings {
  @Setting('Log entries kept per rollout (newest first); older ones are trimmed on write.')
  @IsInt()
  @Min(1)
  @Max(100_000)
  ROLLOUT_LOGS_MAX_ENTRIES: number = 1000;

  @Setting('Longest accepted `message` of one log entry, in characters.')
  @IsInt()
  @Min(1)
  ROLLOUT_LOG_MAX_MESSAGE_CHARS: number = 32_768;

  @Setting('Most `tags` one log entry may carry.')
  @IsInt()
  @Min(1)
  @Max(10_000)
  ROLLOUT_LOG_MAX_TAGS: number = 64;

  @Setting('Largest accepted log entry, measured as the UTF-8 bytes of its JSON body.')
  @IsInt()
  @Min(1024)
  ROLLOUT_LOG_MAX_ENTRY_BYTES: number = 65_536;
}

export type RolloutStatusLimits = Pick<
  RolloutStatusSettings,
  'ROLLOUT_LOG_MAX_MESSAGE_CHARS' | 'ROLLOUT_LOG_MAX_TAGS' | 'ROLLOUT_LOG_MAX_ENTRY_BYTES'
>;
