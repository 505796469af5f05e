import { registerAs } from '@nestjs/config';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, IsUrl, Max, Min } from 'class-validator';
import { toBool, validateConfig } from '@app/common';

const URL_OPTS = { require_tld: false, protocols: ['http', 'https'], require_protocol: true };

export class ForwardingConfig {
  /** When set, every call goes to this OpenAI-compatible base (typically a LiteLLM proxy), model unchanged. */
  @IsOptional()
  @IsUrl(URL_OPTS)
  LITELLM_URL?: string;

  /** The LITELLM_URL proxy may receive the project's Langfuse keys in the body (for its Langfuse callback). */
  @Transform(toBool)
  @IsBoolean()
  LITELLM_TRUSTED: boolean = false;

  /** Base for models without a known provider prefix, and for the catch-all proxy, when LITELLM_URL is unset. */
  @IsUrl(URL_OPTS)
  DEFAULT_UPSTREAM_URL: string = 'https://api.openai.com/v1';

  /** Overrides/additions to the provider table: `name=https://base/v1,other=…`. */
  @IsOptional()
  @IsString()
  UPSTREAM_PROVIDERS?: string;

  /** Seconds an upstream may stay silent before the call fails with 504. */
  @IsNumber()
  @Min(1)
  @Max(3600)
  REQUEST_TIMEOUT: number = 300;

  /** encoded_base_url may point at loopback/private/link-local addresses (off: SSRF guard). */
  @Transform(toBool)
  @IsBoolean()
  ALLOW_PRIVATE_UPSTREAMS: boolean = false;

  /** Where the six tags also go into the forwarded body's metadata.tags: auto = LiteLLM and encoded_base_url upstreams only. */
  @IsIn(['auto', 'always', 'never'])
  FORWARD_METADATA_TAGS: 'auto' | 'always' | 'never' = 'auto';

  /** Idle keep-alive sockets kept per upstream host. */
  @IsInt()
  @Min(1)
  UPSTREAM_MAX_FREE_SOCKETS: number = 256;
}

export const forwardingConfig = registerAs('forwarding', () => validateConfig(ForwardingConfig, {
  LITELLM_URL: process.env.LITELLM_URL,
  LITELLM_TRUSTED: process.env.LITELLM_TRUSTED,
  DEFAULT_UPSTREAM_URL: process.env.DEFAULT_UPSTREAM_URL,
  UPSTREAM_PROVIDERS: process.env.UPSTREAM_PROVIDERS,
  REQUEST_TIMEOUT: process.env.REQUEST_TIMEOUT,
  ALLOW_PRIVATE_UPSTREAMS: process.env.ALLOW_PRIVATE_UPSTREAMS,
  FORWARD_METADATA_TAGS: process.env.FORWARD_METADATA_TAGS,
  UPSTREAM_MAX_FREE_SOCKETS: process.env.UPSTREAM_MAX_FREE_SOCKETS,
}));

export class TracingConfig {
  /** Emit one Langfuse trace per completion (off when a trusted LiteLLM proxy traces by itself). */
  @Transform(toBool)
  @IsBoolean()
  LANGFUSE_EXPORT: boolean = true;

  @IsOptional()
  @IsString()
  LANGFUSE_ENVIRONMENT?: string;

  /** Spans per export batch and the longest wait before a batch is sent. */
  @IsInt()
  @Min(1)
  LANGFUSE_FLUSH_AT: number = 256;

  @IsNumber()
  @Min(0.05)
  LANGFUSE_FLUSH_INTERVAL: number = 1;

  /** Spans buffered per project while Langfuse is slow or down. */
  @IsInt()
  @Min(100)
  LANGFUSE_EXPORT_QUEUE_SIZE: number = 65_536;

  /** Export batches of one project in flight at once (the SDK's processor sends one at a time). */
  @IsInt()
  @Min(1)
  @Max(16)
  LANGFUSE_EXPORT_CONCURRENCY: number = 4;

  /** Build and send the spans in a worker thread (false: on the main thread, between requests). */
  @Transform(toBool)
  @IsBoolean()
  LANGFUSE_EXPORT_WORKER: boolean = true;
}

export const tracingConfig = registerAs('tracing', () => validateConfig(TracingConfig, {
  LANGFUSE_EXPORT: process.env.LANGFUSE_EXPORT,
  LANGFUSE_ENVIRONMENT: process.env.LANGFUSE_ENVIRONMENT,
  LANGFUSE_FLUSH_AT: process.env.LANGFUSE_FLUSH_AT,
  LANGFUSE_FLUSH_INTERVAL: process.env.LANGFUSE_FLUSH_INTERVAL,
  LANGFUSE_EXPORT_QUEUE_SIZE: process.env.LANGFUSE_EXPORT_QUEUE_SIZE,
  LANGFUSE_EXPORT_CONCURRENCY: process.env.LANGFUSE_EXPORT_CONCURRENCY,
  LANGFUSE_EXPORT_WORKER: process.env.LANGFUSE_EXPORT_WORKER,
}));
