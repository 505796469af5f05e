import { Transform } from 'class-transformer';
import { IsBoolean, IsInt, IsNumber, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { Setting, Settings, toBool } from '@app/settings';

@Settings('Langfuse trace export', 25)
export class LangfuseExportSettings {
  @Setting('One Langfuse trace per completion (false when a trusted LiteLLM proxy traces by itself).')
  @Transform(toBool)
  @IsBoolean()
  LANGFUSE_EXPORT: boolean = true;

  @Setting('Langfuse environment of the traces.')
  @IsOptional()
  @IsString()
  LANGFUSE_ENVIRONMENT?: string;

  @Setting('Spans per export batch.')
  @IsInt()
  @Min(1)
  LANGFUSE_FLUSH_AT: number = 256;

  @Setting('Seconds a span may wait for its batch to fill.')
  @IsNumber()
  @Min(0.05)
  LANGFUSE_FLUSH_INTERVAL: number = 1;

  @Setting(
    'Traces waiting for Langfuse at most: in the Redis trace stream (shared by the replicas) when Redis is configured, else in memory per gateway. They are retried until Langfuse takes them; beyond this bound new ones are dropped and logged with their rollouts.',
  )
  @IsInt()
  @Min(100)
  LANGFUSE_EXPORT_QUEUE_SIZE: number = 65_536;

  @Setting('Longest one export request to Langfuse may take before it is retried (ms).')
  @IsInt()
  @Min(1_000)
  @Max(600_000)
  LANGFUSE_EXPORT_TIMEOUT_MS: number = 30_000;

  @Setting('At shutdown, how long the export keeps delivering the traces it holds before it leaves them in the trace stream, or the spool (s); a project whose last export failed is not retried then.')
  @IsNumber()
  @Min(0)
  @Max(600)
  LANGFUSE_EXPORT_DRAIN_SECONDS: number = 10;

  @Setting(
    "This gateway's name in the trace stream's consumer group (default: the host name). A gateway restarted under the same name takes back at once the traces it left pending; those of a name that stays away are taken over by another gateway after 60 s. Give each process its own name when several run on one host.",
  )
  @IsOptional()
  @Matches(/^[\w.:-]{1,128}$/, { message: 'LANGFUSE_EXPORT_CONSUMER takes letters, digits and . _ : - (at most 128)' })
  LANGFUSE_EXPORT_CONSUMER?: string;

  @Setting('Export batches of one project in flight at once (1–16); raise it when Langfuse answers slowly.')
  @IsInt()
  @Min(1)
  @Max(16)
  LANGFUSE_EXPORT_CONCURRENCY: number = 4;

  @Setting('Build and send the spans in a worker thread (`false`: on the main thread, between requests).')
  @Transform(toBool)
  @IsBoolean()
  LANGFUSE_EXPORT_WORKER: boolean = true;
}
