import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { SpanStatusCode, Tracer } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { LANGFUSE_SDK_VERSION, LANGFUSE_TRACER_NAME } from '@langfuse/core';
import { LangfuseSpanProcessor } from '@langfuse/otel';
import { createObservationAttributes, createTraceAttributes, LangfuseOtelSpanAttributes } from '@langfuse/tracing';
import { CredentialVault, LangfuseCredentials } from '@app/credential-vault';
import { CompletionOutcome, CompletionTrace, CompletionTraceStart, CompletionTracer } from './completion.tracer';
import { tracingConfig } from './forwarding.config';

const TRACE_NAME = 'chat-completion';
const MODEL_PARAMETERS = [
  'temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'n', 'stop', 'presence_penalty', 'frequency_penalty',
  'seed', 'logit_bias', 'response_format', 'tool_choice', 'reasoning_effort', 'stream', 'top_k', 'min_p', 'repetition_penalty',
] as const;

interface ProjectExport {
  provider: BasicTracerProvider;
  tracer: Tracer;
}

/**
 * One OpenTelemetry tracer provider per Langfuse project, each with its own
 * LangfuseSpanProcessor (batched OTLP/HTTP JSON to
 * {host}/api/public/otel/v1/traces), so keys never mix. Attributes are set on
 * the span directly with the SDK's own attribute builders (no context
 * manager needed). A completion is one span = one trace with one generation.
 */
@Injectable()
export class LangfuseCompletionTracer extends CompletionTracer implements OnApplicationShutdown {
  private readonly logger = new Logger(LangfuseCompletionTracer.name);
  private projects = new Map<string, ProjectExport>();

  constructor(
    private readonly vault: CredentialVault,
    @Inject(tracingConfig.KEY) private readonly config: ConfigType<typeof tracingConfig>,
  ) {
    super();
    // BatchSpanProcessor reads its queue bound from the environment only.
    process.env.OTEL_BSP_MAX_QUEUE_SIZE ??= String(config.LANGFUSE_EXPORT_QUEUE_SIZE);
    vault.onReload(() => {
      const old = this.projects;
      this.projects = new Map();
      void this.shutdownAll(old);
    });
  }

  start(info: CompletionTraceStart): CompletionTrace | undefined {
    if (!this.config.LANGFUSE_EXPORT) return undefined;
    const creds = this.vault.findCredentials(info.projectId);
    if (!creds) return undefined;
    const { tracer } = this.exportFor(creds);
    const { messages, tools } = info.request as { messages?: unknown; tools?: unknown };
    // Serialised once for the trace and the generation (the SDK's builders pass strings through).
    const input = serialize(tools === undefined ? { messages } : { messages, tools });
    const span = tracer.startSpan(TRACE_NAME, {
      startTime: info.startTime,
      attributes: {
        [LangfuseOtelSpanAttributes.TRACE_NAME]: TRACE_NAME,
        [LangfuseOtelSpanAttributes.TRACE_TAGS]: info.tags,
        ...traceMetadataAttributes(info.metadata),
        ...(typeof info.request.user === 'string' ? { [LangfuseOtelSpanAttributes.TRACE_USER_ID]: info.request.user } : {}),
        ...createTraceAttributes({ input }),
        ...createObservationAttributes('generation', {
          input,
          model: info.model,
          modelParameters: pickModelParameters(info.request),
          metadata: info.metadata,
          environment: this.config.LANGFUSE_ENVIRONMENT,
        }),
      },
    });
    const traceId = span.spanContext().traceId;
    let ended = false;
    return {
      traceId,
      end: (outcome: CompletionOutcome) => {
        if (ended) return;
        ended = true;
        const output = serialize(outcome.output);
        span.setAttributes({
          ...createTraceAttributes({ output }),
          ...createObservationAttributes('generation', {
            output,
            model: outcome.model ?? info.model,
            usageDetails: toUsageDetails(outcome.usage),
            completionStartTime: outcome.completionStartTime,
            level: outcome.error ? 'ERROR' : undefined,
            statusMessage: outcome.error,
          }),
        });
        if (outcome.error) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
        span.end();
      },
    };
  }

  private exportFor(creds: LangfuseCredentials): ProjectExport {
    let entry = this.projects.get(creds.projectId);
    if (!entry) {
      const processor = new LangfuseSpanProcessor({
        publicKey: creds.publicKey,
        secretKey: creds.secretKey,
        baseUrl: creds.host,
        exportMode: 'batched',
        flushAt: this.config.LANGFUSE_FLUSH_AT,
        flushInterval: this.config.LANGFUSE_FLUSH_INTERVAL,
        environment: this.config.LANGFUSE_ENVIRONMENT,
        mediaUploadEnabled: false,
      });
      const provider = new BasicTracerProvider({ spanProcessors: [processor] });
      // The SDK's own scope name: Langfuse copies every span attribute into the
      // observation metadata for spans of other instrumentation scopes.
      entry = { provider, tracer: provider.getTracer(LANGFUSE_TRACER_NAME, LANGFUSE_SDK_VERSION) };
      this.projects.set(creds.projectId, entry);
    }
    return entry;
  }

  /** Waits for every queued span to be exported (used by tests and shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.projects.values()].map((p) => p.provider.forceFlush()));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.shutdownAll(this.projects);
  }

  private async shutdownAll(projects: Map<string, ProjectExport>): Promise<void> {
    await Promise.all(
      [...projects].map(async ([id, p]) => {
        try {
          await p.provider.forceFlush();
          await p.provider.shutdown();
        } catch (err) {
          this.logger.error(`Flushing Langfuse traces of project ${id} failed: ${(err as Error).message}`);
        }
      }),
    );
  }
}

/** As the SDK's attribute builders serialise IO: strings as they are, anything else as JSON. */
function serialize(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return '<failed to serialize>';
  }
}

/** The SDK types model parameters as string | number; anything else goes as JSON text. */
function pickModelParameters(request: Record<string, unknown>): Record<string, string | number> | undefined {
  const out: Record<string, string | number> = {};
  for (const key of MODEL_PARAMETERS) {
    const v = request[key];
    if (v === undefined || v === null) continue;
    out[key] = typeof v === 'string' || typeof v === 'number' ? v : JSON.stringify(v);
  }
  return Object.keys(out).length ? out : undefined;
}

function toUsageDetails(usage: CompletionOutcome['usage']): Record<string, number> | undefined {
  if (!usage) return undefined;
  const out: Record<string, number> = {};
  if (typeof usage.prompt_tokens === 'number') out.input = usage.prompt_tokens;
  if (typeof usage.completion_tokens === 'number') out.output = usage.completion_tokens;
  if (typeof usage.total_tokens === 'number') out.total = usage.total_tokens;
  return Object.keys(out).length ? out : undefined;
}

/** Langfuse maps `langfuse.trace.metadata.<key>` attributes to trace metadata keys. */
function traceMetadataAttributes(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) out[`${LangfuseOtelSpanAttributes.TRACE_METADATA}.${k}`] = v;
  return out;
}
