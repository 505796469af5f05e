import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/** How a project's spans are batched and sent. */
export interface BatchingOptions {
  projectId: string;
  /** Spans per batch. */
  flushAt: number;
  /** Longest wait for a batch to fill (ms). */
  flushIntervalMs: number;
  /** Batches in flight at once. */
  concurrency: number;
  /** Spans waiting to be sent, at most; beyond it they are dropped (and logged). */
  maxQueue: number;
}

export type ExportLog = (level: 'error' | 'warn', message: string) => void;

const SUCCESS = 0; // ExportResultCode.SUCCESS, without a runtime import for one enum
const ROLLOUT_ATTRIBUTE = 'langfuse.trace.metadata.rollout_id';

/**
 * The SpanExporter behind a project's LangfuseSpanProcessor (immediate mode):
 * it takes each span at once, batches them (flushAt, flush interval), and
 * sends up to `concurrency` batches at a time through the OTLP exporter.
 *
 * Why not the SDK's BatchSpanProcessor: it sends one batch at a time (a
 * project would be capped at flushAt spans per Langfuse round trip), reads its
 * queue bound from the process environment only, and reports failures and
 * drops through OpenTelemetry's global error handler and diag logger, which
 * are process-wide. Here the bound is an option, and a failed batch or a
 * drop is logged with its count and rollouts.
 */
export class BatchingExporter implements SpanExporter {
  private queue: ReadableSpan[] = [];
  private inFlight = 0;
  private timer?: NodeJS.Timeout;
  private dropped: ReadableSpan[] = [];
  private droppedTimer?: NodeJS.Timeout;
  private idle: Array<() => void> = [];

  constructor(
    private readonly otlp: SpanExporter,
    private readonly options: BatchingOptions,
    private readonly log: ExportLog,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    for (const span of spans) {
      if (this.queue.length >= this.options.maxQueue) this.drop(span);
      else this.queue.push(span);
    }
    resultCallback({ code: SUCCESS });
    this.pump(false);
  }

  /** Sends everything queued and resolves when no batch is in flight. */
  forceFlush(): Promise<void> {
    this.pump(true);
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.reportDrops();
    await this.otlp.shutdown();
  }

  /** Sends full batches (every batch when `all`) while there is room in flight; arms the timer for the rest. */
  private pump(all: boolean): void {
    const { flushAt, concurrency, flushIntervalMs } = this.options;
    while (this.inFlight < concurrency && this.queue.length > 0 && (all || this.queue.length >= flushAt)) {
      this.send(this.queue.splice(0, flushAt));
    }
    if (this.queue.length > 0 && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump(true);
      }, flushIntervalMs);
      this.timer.unref();
    }
  }

  private send(batch: ReadableSpan[]): void {
    this.inFlight++;
    this.otlp.export(batch, (result) => {
      this.inFlight--;
      if (result.code !== SUCCESS) {
        this.log(
          'error',
          `Langfuse did not take ${batch.length} trace(s) of project ${this.options.projectId} (${describeExportError(result.error)}); ` +
            `they are lost for ${rolloutsOf(batch)}, whose /traces stay incomplete.`,
        );
      }
      this.pump(this.idle.length > 0);
      if (this.inFlight === 0 && this.queue.length === 0) for (const resolve of this.idle.splice(0)) resolve();
    });
  }

  private drop(span: ReadableSpan): void {
    this.dropped.push(span);
    this.droppedTimer ??= setTimeout(() => this.reportDrops(), 1000).unref();
  }

  private reportDrops(): void {
    clearTimeout(this.droppedTimer);
    this.droppedTimer = undefined;
    if (this.dropped.length === 0) return;
    const dropped = this.dropped;
    this.dropped = [];
    this.log(
      'error',
      `${dropped.length} trace(s) of project ${this.options.projectId} dropped: ${this.options.maxQueue} were already waiting for Langfuse (LANGFUSE_EXPORT_QUEUE_SIZE); ` +
        `lost for ${rolloutsOf(dropped)}.`,
    );
  }
}

/** "rollouts r-1, r-2 (+3 more)" — what an operator needs to find the affected rollouts. */
function rolloutsOf(spans: readonly ReadableSpan[]): string {
  const ids = new Set<string>();
  let untracked = 0;
  for (const span of spans) {
    const id = span.attributes[ROLLOUT_ATTRIBUTE];
    if (typeof id === 'string') ids.add(id);
    else untracked++;
  }
  const list = [...ids];
  const named = list.length === 0 ? 'no rollout' : `rollout${list.length > 1 ? 's' : ''} ${list.slice(0, 10).join(', ')}${list.length > 10 ? ` (+${list.length - 10} more)` : ''}`;
  return untracked > 0 ? `${named} and ${untracked} untracked completion(s)` : named;
}

/** The exporter's errors carry the HTTP status and Langfuse's answer, never the request's headers, so no key reaches the log. */
function describeExportError(err: unknown): string {
  if (!(err instanceof Error)) return String(err ?? 'unknown error');
  const { code, data } = err as Error & { code?: number; data?: string };
  const status = typeof code === 'number' ? ` (HTTP ${code})` : '';
  const answer = typeof data === 'string' && data.length > 0 ? `: ${data.slice(0, 300)}` : '';
  return `${err.message}${status}${answer}`;
}
