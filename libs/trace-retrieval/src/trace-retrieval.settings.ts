import { Transform } from 'class-transformer';
import { IsIn, IsInt, Max, Min } from 'class-validator';
import { Setting, Settings, toLowerCase } from '@app/settings';

export type ReadApiMode = 'auto' | 'v2' | 'legacy';

@Settings('Reading traces back (/traces)', 80)
export class TraceRetrievalSettings {
  @Setting('Which Langfuse read API: `auto` (v2 observations, probed once per project; legacy on 404), `v2`, `legacy`.')
  @Transform(toLowerCase)
  @IsIn(['auto', 'v2', 'legacy'])
  LANGFUSE_READ_API: ReadApiMode = 'auto';

  @Setting('Longest wait for one Langfuse read call before it is retried (ms).')
  @IsInt()
  @Min(100)
  @Max(600_000)
  LANGFUSE_READ_TIMEOUT_MS: number = 15_000;

  @Setting('Langfuse read calls in flight at once, per project.')
  @IsInt()
  @Min(1)
  @Max(256)
  LANGFUSE_READ_CONCURRENCY: number = 8;

  @Setting('Langfuse read calls per minute, per project and replica.')
  @IsInt()
  @Min(1)
  LANGFUSE_READ_RPM: number = 6_000;

  @Setting('Everything one /traces call may spend: Langfuse calls, rate-limit waits, completeness backoff (ms).')
  @IsInt()
  @Min(1_000)
  @Max(3_600_000)
  LANGFUSE_READ_BUDGET_MS: number = 120_000;

  @Setting('First wait between completeness rounds; doubles every round (ms).')
  @IsInt()
  @Min(0)
  @Max(60_000)
  LANGFUSE_COMPLETENESS_BACKOFF_MS: number = 1_000;

  @Setting('Observations per v2 page (the API allows up to 1000).')
  @IsInt()
  @Min(1)
  @Max(1_000)
  LANGFUSE_V2_PAGE_SIZE: number = 1_000;
}
