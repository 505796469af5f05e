import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Context, diag, DiagLogLevel, SpanStatusCode, Tracer } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import { BasicTracerProvider, ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LANGFUSE_SDK_VERSION, LANGFUSE_TRACER_NAME } from '@langfuse/core';
import { LangfuseSpanProcessor } from '@langfuse/otel';
import { CredentialVault, LangfuseCredentials } from '@app/credential-vault';
import { CompletionOutcome, CompletionTrace, CompletionTraceStart, CompletionTracer } from './completion.tracer';
import { tracingConfig } from './forwarding.config';
import { generationEndAttributes, generationStartAttributes, TRACE_NAME } from './generation-attributes';

interface ProjectExport {
  provider: BasicTracerProvider;
  tracer: Tracer;
}

/**
 * One OpenTelemetry tracer provider per Langfuse project, with the SDK's
 * LangfuseSpanProcessor (batched OTLP/HTTP JSON to
 * {host}/api/public/otel/v1/traces), so keys never mix. Attributes are set on
 * the span directly (no context manager needed; see generation-attributes.ts).
 * A completion is one span = one trace with one generation.
 *
 * The processor's BatchSpanProcessor exports one batch at a time, which caps
 * a project at LANGFUSE_FLUSH_AT spans per Langfuse response time. So each
 * project has LANGFUSE_EXPORT_CONCURRENCY processors, and each span goes to
 * one of them, chosen by its span id (its onStart and onEnd meet the same one).
 *
 * A failed export (after the exporter's retries) goes to OpenTelemetry's
 * global error handler, spans dropped from a full queue to its diag logger.
 * Both are silent unless set; here they log, because a lost trace keeps its
 * rollout incomplete for /traces.
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
    // BatchSpanProcessor reads its queue bound from the environment only; the
    // project's processors share LANGFUSE_EXPORT_QUEUE_SIZE.
    process.env.OTEL_BSP_MAX_QUEUE_SIZE ??= String(Math.ceil(config.LANGFUSE_EXPORT_QUEUE_SIZE / config.LANGFUSE_EXPORT_CONCURRENCY));
    reportExportFailures(this.logger);
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
    const span = tracer.startSpan(TRACE_NAME, {
      startTime: info.startTime,
      attributes: generationStartAttributes(info, this.config.LANGFUSE_ENVIRONMENT),
    });
    const traceId = span.spanContext().traceId;
    let ended = false;
    return {
      traceId,
      end: (outcome: CompletionOutcome) => {
        if (ended) return;
        ended = true;
        span.setAttributes(generationEndAttributes(outcome, info.model));
        if (outcome.error) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
        span.end();
      },
    };
  }

  private exportFor(creds: LangfuseCredentials): ProjectExport {
    let entry = this.projects.get(creds.projectId);
    if (!entry) {
      const processors = Array.from(
        { length: this.config.LANGFUSE_EXPORT_CONCURRENCY },
        () =>
          new LangfuseSpanProcessor({
            publicKey: creds.publicKey,
            secretKey: creds.secretKey,
            baseUrl: creds.host,
            exportMode: 'batched',
            flushAt: this.config.LANGFUSE_FLUSH_AT,
            flushInterval: this.config.LANGFUSE_FLUSH_INTERVAL,
            environment: this.config.LANGFUSE_ENVIRONMENT,
            mediaUploadEnabled: false,
          }),
      );
      const provider = new BasicTracerProvider({ spanProcessors: [new SpanIdSharding(processors)] });
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

/** Hands each span to one of several processors, by its span id (random hex). */
class SpanIdSharding implements SpanProcessor {
  constructor(private readonly shards: SpanProcessor[]) {}

  private shardOf(span: { spanContext(): { spanId: string } }): SpanProcessor {
    return this.shards[parseInt(span.spanContext().spanId.slice(-4), 16) % this.shards.length];
  }

  onStart(span: Span, parentContext: Context): void {
    this.shardOf(span).onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    this.shardOf(span).onEnd(span);
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.shutdown()));
  }
}

/**
 * Routes OpenTelemetry's failure reports (process-wide) to the log. The
 * exporter's errors carry the HTTP status and Langfuse's answer, never the
 * request's headers, so no key reaches the log.
 */
function reportExportFailures(logger: Logger): void {
  setGlobalErrorHandler((err) => logger.error(`Langfuse trace export failed; the traces of that batch may be lost: ${describeExportError(err)}`));
  diag.setLogger(
    {
      error: (message: string) => logger.error(`OpenTelemetry: ${message}`),
      warn: (message: string) => logger.warn(`OpenTelemetry: ${message}`),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}

function describeExportError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const { code, data } = err as Error & { code?: number; data?: string };
  const status = typeof code === 'number' ? ` (HTTP ${code})` : '';
  const answer = typeof data === 'string' && data.length > 0 ? `: ${data.slice(0, 300)}` : '';
  return `${err.message}${status}${answer}`;
}
