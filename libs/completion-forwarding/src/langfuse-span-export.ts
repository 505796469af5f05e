/**
 * The export half of Langfuse tracing: turns finished completions into
 * OpenTelemetry spans and hands them to the SDK's LangfuseSpanProcessor. It
 * runs either on the main thread or inside the export worker thread
 * (langfuse-export.worker.ts), so it imports nothing from Nest and nothing
 * through the `@app/*` aliases.
 *
 * One tracer provider per Langfuse project, so keys never mix. A completion
 * is one span = one trace with one generation; its ids are chosen when the
 * completion starts (the trace id goes back to the client as
 * `x-langfuse-trace-id`), and the span is built from the finished record.
 *
 * The processor's BatchSpanProcessor exports one batch at a time, which caps
 * a project at LANGFUSE_FLUSH_AT spans per Langfuse response time. So each
 * project has LANGFUSE_EXPORT_CONCURRENCY processors, and each span goes to
 * one of them, chosen by its span id (its onStart and onEnd meet the same one).
 *
 * A failed export (after the exporter's retries) goes to OpenTelemetry's
 * global error handler, spans dropped from a full queue to its diag logger.
 * Both are silent unless set (per thread: each has its own OpenTelemetry
 * globals); `reportExportFailures` makes them log, because a lost trace keeps
 * its rollout incomplete for /traces.
 */
import { Context, diag, DiagLogLevel, SpanStatusCode, Tracer } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import { BasicTracerProvider, IdGenerator, ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LANGFUSE_SDK_VERSION, LANGFUSE_TRACER_NAME } from '@langfuse/core';
import { LangfuseSpanProcessor } from '@langfuse/otel';
import type { CompletionOutcome, CompletionTraceStart } from './completion.tracer';
import { generationEndAttributes, generationStartAttributes, TRACE_NAME } from './generation-attributes';

/** A project's Langfuse connection (LangfuseCredentials satisfies it). */
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
  /** Processors (batches in flight) per project. */
  concurrency: number;
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

export type ExportLog = (level: 'error' | 'warn', message: string) => void;

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

  /** Waits for every queued span to be exported. */
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
    const { flushAt, flushInterval, environment, concurrency } = this.options;
    const processors = Array.from(
      { length: concurrency },
      () =>
        new LangfuseSpanProcessor({
          publicKey: credentials.publicKey,
          secretKey: credentials.secretKey,
          baseUrl: credentials.host,
          exportMode: 'batched',
          flushAt,
          flushInterval,
          environment,
          mediaUploadEnabled: false,
        }),
    );
    const provider = new BasicTracerProvider({ idGenerator: this.ids, spanProcessors: [new SpanIdSharding(processors)] });
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
 * Routes OpenTelemetry's failure reports (for this thread) to the log. The
 * exporter's errors carry the HTTP status and Langfuse's answer, never the
 * request's headers, so no key reaches the log.
 */
export function reportExportFailures(log: ExportLog): void {
  setGlobalErrorHandler((err) => log('error', `Langfuse trace export failed; the traces of that batch may be lost: ${describeExportError(err)}`));
  diag.setLogger(
    {
      error: (message: string) => log('error', `OpenTelemetry: ${message}`),
      warn: (message: string) => log('warn', `OpenTelemetry: ${message}`),
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
