import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { SpanStatusCode, Tracer } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
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
 * One OpenTelemetry tracer provider per Langfuse project, each with its own
 * LangfuseSpanProcessor (batched OTLP/HTTP JSON to
 * {host}/api/public/otel/v1/traces), so keys never mix. Attributes are set on
 * the span directly (no context manager needed; see generation-attributes.ts).
 * A completion is one span = one trace with one generation.
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
