import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, Max, Min } from 'class-validator';
import { validateConfig } from '@app/common';

export type ReadApiMode = 'auto' | 'v2' | 'legacy';

export class TraceRetrievalConfig {
  /** Which Langfuse read API: auto probes v2 once per project and falls back to legacy when v2 answers 404. */
  @IsIn(['auto', 'v2', 'legacy'])
  LANGFUSE_READ_API: ReadApiMode = 'auto';

  /** Longest wait for one Langfuse call (until response headers) before it is retried. */
  @IsInt()
  @Min(100)
  @Max(600_000)
  LANGFUSE_READ_TIMEOUT_MS: number = 15_000;

  /** Langfuse calls in flight at once, per project (trace detail GETs on the legacy path). */
  @IsInt()
  @Min(1)
  @Max(256)
  LANGFUSE_READ_CONCURRENCY: number = 8;

  /** Langfuse read calls per minute, per project, shared by every request of this replica. */
  @IsInt()
  @Min(1)
  LANGFUSE_READ_RPM: number = 6_000;

  /** Everything one /traces call may spend (Langfuse calls, rate-limit waits, completeness backoff). */
  @IsInt()
  @Min(1_000)
  @Max(3_600_000)
  LANGFUSE_READ_BUDGET_MS: number = 120_000;

  /** First wait between completeness rounds; doubles every round. */
  @IsInt()
  @Min(0)
  @Max(60_000)
  LANGFUSE_COMPLETENESS_BACKOFF_MS: number = 1_000;

  /** Observations per v2 page (the API allows up to 1000). */
  @IsInt()
  @Min(1)
  @Max(1_000)
  LANGFUSE_V2_PAGE_SIZE: number = 1_000;
}

export const traceRetrievalConfig = registerAs('traceRetrieval', () => validateConfig(TraceRetrievalConfig, {
  LANGFUSE_READ_API: process.env.LANGFUSE_READ_API?.toLowerCase(),
  LANGFUSE_READ_TIMEOUT_MS: process.env.LANGFUSE_READ_TIMEOUT_MS,
  LANGFUSE_READ_CONCURRENCY: process.env.LANGFUSE_READ_CONCURRENCY,
  LANGFUSE_READ_RPM: process.env.LANGFUSE_READ_RPM,
  LANGFUSE_READ_BUDGET_MS: process.env.LANGFUSE_READ_BUDGET_MS,
  LANGFUSE_COMPLETENESS_BACKOFF_MS: process.env.LANGFUSE_COMPLETENESS_BACKOFF_MS,
  LANGFUSE_V2_PAGE_SIZE: process.env.LANGFUSE_V2_PAGE_SIZE,
}));

