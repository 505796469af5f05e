import { Transform } from 'class-transformer';
import { IsBoolean, IsInt, IsNumber, IsOptional, IsString, Max, Min } from 'class-validator';
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

  @Setting('Spans buffered per project while Langfuse is slow or down; beyond it they are dropped and logged with their rollouts.')
  @IsInt()
  @Min(100)
  LANGFUSE_EXPORT_QUEUE_SIZE: number = 65_536;

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
