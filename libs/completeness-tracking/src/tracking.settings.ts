import { IsInt, Max, Min } from 'class-validator';
import { Setting, Settings } from '@app/settings';

@Settings('Completeness tracking', 40)
export class TrackingSettings {
  @Setting("How long a rollout's ids, logs and status live after the last write (seconds).")
  @IsInt()
  @Min(60)
  ROLLOUT_TTL_SECONDS: number = 7 * 24 * 3600;

  @Setting('Registrations held in memory and retried while the store is unreachable; beyond that a call fails loudly.')
  @IsInt()
  @Min(1)
  REGISTRATION_QUEUE_SIZE: number = 10_000;

  @Setting('Longest a completion waits for the store to confirm its registration before it is queued for retry instead (ms).')
  @IsInt()
  @Min(10)
  @Max(10_000)
  REGISTRATION_TIMEOUT_MS: number = 250;
}
