/**
 * The export half of Langfuse tracing: turns finished completions into
 * OpenTelemetry spans and hands them to the SDK's LangfuseSpanProcessor. It
 * runs on the main thread or inside the export worker thread
 * (export.worker.ts), so it imports nothing from Nest and nothing through
 * the `@app/*` aliases at run time, and sets nothing process-wide.
 *
 * One tracer provider per Langfuse project, so keys never mix. A completion
 * is one span = one trace with one generation; its ids are chosen when the
 * completion starts (the trace id goes back to the client as
 * `x-langfuse-trace-id`), and the span is built from the finished record.
 * The processor runs in immediate mode on a BatchingExporter, which batches,
 * bounds and sends the spans and logs what Langfuse did not take.
 */
import { SpanStatusCode, Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, IdGenerator } from '@opentelemetry/sdk-trace-base';
import { LANGFUSE_SDK_VERSION, LANGFUSE_TRACER_NAME } from '@langfuse/core';
import { LangfuseSpanProcessor } from '@langfuse/otel';
import type { CompletionOutcome, CompletionTraceStart } from '@app/completion-forwarding';
import { BatchingExporter, ExportLog } from './batching.exporter';
import { generationEndAttributes, generationStartAttributes, TRACE_NAME } from './generation-attributes';

export type { ExportLog } from './batching.exporter';

/** A project's Langfuse connection (LangfuseCredentials satisfies it). Plain data: it crosses to the worker thread. */
export interface ExportCredentials {
  readonly projectId: string;
  readonly publicKey: string;
  readonly secretKey: string;
  readonly host: string;
}

export interface SpanExportOptions {
  flushAt: number;
  /** Seconds. */
  flushInterval: number;
  environment?: string;
  /** Batches in flight per project. */
  concurrency: number;
  /** Spans waiting per project, at most. */
  maxQueue: number;
}

/** A finished completion, as the export needs it. Plain data: it crosses to the worker thread. */
export interface CompletionRecord {
  projectId: string;
  traceId: string;
  spanId: string;
  start: CompletionTraceStart;
  outcome: CompletionOutcome;
  /** Epoch milliseconds (fractional). */
  endTime: number;
}

/** Seconds Langfuse's OTLP endpoint has to answer one batch (the SDK's default). */
const EXPORT_TIMEOUT_MS = 5_000;

interface ProjectExport {
  credentials: ExportCredentials;
  provider: BasicTracerProvider;
  tracer: Tracer;
}

/** Hands the tracer the ids chosen when the completion started (set right before each startSpan). */
class PresetIds implements IdGenerator {
  traceId = '';
  spanId = '';

  generateTraceId(): string {
    return this.traceId;
  }

  generateSpanId(): string {
    return this.spanId;
  }
}

export class LangfuseSpanExport {
  private projects = new Map<string, ProjectExport>();
  private readonly ids = new PresetIds();

  constructor(
    private readonly options: SpanExportOptions,
    private readonly log: ExportLog,
  ) {}

  export(credentials: ExportCredentials, record: CompletionRecord): void {
    const { tracer } = this.exportFor(credentials);
    this.ids.traceId = record.traceId;
    this.ids.spanId = record.spanId;
    const span = tracer.startSpan(TRACE_NAME, {
      startTime: record.start.startTime,
      attributes: generationStartAttributes(record.start, this.options.environment),
    });
    const { outcome } = record;
    span.setAttributes(generationEndAttributes(outcome, record.start.model));
    if (outcome.error) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
    span.end(record.endTime);
  }

  /** Waits for every span handed over so far to be sent (or its failure logged). */
  async flush(): Promise<void> {
    await Promise.all([...this.projects.values()].map((p) => p.provider.forceFlush()));
  }

  /** Flushes and closes every project's export (at shutdown, or when the keys were reloaded). */
  async shutdown(): Promise<void> {
    const projects = this.projects;
    this.projects = new Map();
    await Promise.all([...projects.values()].map((p) => this.retire(p)));
  }

  private exportFor(credentials: ExportCredentials): ProjectExport {
    const entry = this.projects.get(credentials.projectId);
    if (entry && sameConnection(entry.credentials, credentials)) return entry;
    if (entry) void this.retire(entry);
    const created = this.create(credentials);
    this.projects.set(credentials.projectId, created);
    return created;
  }

  private create(credentials: ExportCredentials): ProjectExport {
    const { publicKey, secretKey, host, projectId } = credentials;
    const { flushAt, flushInterval, environment, concurrency, maxQueue } = this.options;
    // The endpoint and headers the SDK's processor would give its own OTLP exporter.
    const otlp = new OTLPTraceExporter({
      url: `${host}/api/public/otel/v1/traces`,
      headers: {
        Authorization: `Basic ${Buffer.from(`${publicKey}:${secretKey}`).toString('base64')}`,
        'x-langfuse-sdk-name': 'javascript',
        'x-langfuse-sdk-version': LANGFUSE_SDK_VERSION,
        'x-langfuse-public-key': publicKey,
      },
      timeoutMillis: EXPORT_TIMEOUT_MS,
    });
    const exporter = new BatchingExporter(otlp, { projectId, flushAt, flushIntervalMs: flushInterval * 1000, concurrency, maxQueue }, this.log);
    const processor = new LangfuseSpanProcessor({ exporter, exportMode: 'immediate', publicKey, baseUrl: host, environment, mediaUploadEnabled: false });
    const provider = new BasicTracerProvider({ idGenerator: this.ids, spanProcessors: [processor] });
    // The SDK's own scope name: Langfuse copies every span attribute into the
    // observation metadata for spans of other instrumentation scopes.
    return { credentials, provider, tracer: provider.getTracer(LANGFUSE_TRACER_NAME, LANGFUSE_SDK_VERSION) };
  }

  /** Flushes and closes one project's export; a failure is logged. */
  private async retire(entry: ProjectExport): Promise<void> {
    try {
      await entry.provider.forceFlush();
      await entry.provider.shutdown();
    } catch (err) {
      this.log('error', `Flushing Langfuse traces of project ${entry.credentials.projectId} failed: ${(err as Error).message}`);
    }
  }
}

function sameConnection(a: ExportCredentials, b: ExportCredentials): boolean {
  return a === b || (a.publicKey === b.publicKey && a.secretKey === b.secretKey && a.host === b.host);
}
