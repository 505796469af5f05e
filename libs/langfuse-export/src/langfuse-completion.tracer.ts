import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { RandomIdGenerator } from '@opentelemetry/sdk-trace-base';
import { CompletionOutcome, CompletionTrace, CompletionTraceStart, CompletionTracer } from '@app/completion-forwarding';
import { CredentialVault } from '@app/credential-vault';
import { LangfuseExportThread } from './export-thread';
import { LangfuseExportSettings } from './langfuse-export.settings';
import { CompletionRecord, ExportCredentials, ExportLog, LangfuseSpanExport, SpanExportOptions } from './span-export';

/** Where finished completions go: the span export itself, or the worker thread that runs it. */
interface ExportSink {
  export(credentials: ExportCredentials, record: CompletionRecord): void;
  flush(): Promise<void>;
  reset(): void;
  close(): Promise<void>;
}

export interface LangfuseCompletionTracerOptions {
  /** The export worker's entry script; required with LANGFUSE_EXPORT_WORKER=true. */
  workerScript?: string;
}

/**
 * One Langfuse trace per completion, exported with the SDK's
 * LangfuseSpanProcessor (span-export.ts).
 *
 * The trace and span ids are chosen when the completion starts (the client
 * gets the trace id as `x-langfuse-trace-id`); when it ends, the finished
 * record goes to the export, which runs in a worker thread
 * (LANGFUSE_EXPORT_WORKER, default true) or here, on the main thread.
 *
 * The worker takes the export off the request path: the main thread's share
 * drops from about 65 to 7 µs per completion (records cross in one
 * structured clone per 20 ms), and the spans' garbage lives in the worker's
 * own heap (bench/README.md).
 */
@Injectable()
export class LangfuseCompletionTracer extends CompletionTracer implements OnApplicationShutdown {
  private readonly logger = new Logger(LangfuseCompletionTracer.name);
  private readonly ids = new RandomIdGenerator();
  private readonly sink?: ExportSink;

  constructor(
    private readonly vault: CredentialVault,
    settings: LangfuseExportSettings,
    options: LangfuseCompletionTracerOptions = {},
  ) {
    super();
    if (!settings.LANGFUSE_EXPORT) return;
    const exportOptions: SpanExportOptions = {
      flushAt: settings.LANGFUSE_FLUSH_AT,
      flushInterval: settings.LANGFUSE_FLUSH_INTERVAL,
      environment: settings.LANGFUSE_ENVIRONMENT,
      concurrency: settings.LANGFUSE_EXPORT_CONCURRENCY,
      maxQueue: settings.LANGFUSE_EXPORT_QUEUE_SIZE,
    };
    const log: ExportLog = (level, message) => (level === 'error' ? this.logger.error(message) : this.logger.warn(message));
    if (settings.LANGFUSE_EXPORT_WORKER) {
      if (!options.workerScript) {
        throw new Error('LANGFUSE_EXPORT_WORKER=true but the export worker script was not found (it is built next to langfuse-export.module.js by `npm run build`): build the gateway, or set LANGFUSE_EXPORT_WORKER=false.');
      }
      this.sink = new LangfuseExportThread({ ...exportOptions, maxPending: settings.LANGFUSE_EXPORT_QUEUE_SIZE, script: options.workerScript }, log);
    } else {
      const spans = new LangfuseSpanExport(exportOptions, log);
      this.sink = { export: (c, r) => spans.export(c, r), flush: () => spans.flush(), reset: () => void spans.shutdown(), close: () => spans.shutdown() };
    }
    this.logger.log(`Langfuse traces are exported ${settings.LANGFUSE_EXPORT_WORKER ? 'from a worker thread' : 'on the main thread (LANGFUSE_EXPORT_WORKER=false)'}.`);
    vault.onReload(() => this.sink?.reset());
  }

  start(info: CompletionTraceStart): CompletionTrace | undefined {
    const sink = this.sink;
    if (!sink) return undefined;
    const credentials = this.vault.findCredentials(info.projectId);
    if (!credentials) return undefined;
    const spanId = this.ids.generateSpanId();
    const traceId = this.ids.generateTraceId();
    let ended = false;
    return {
      traceId,
      end: (outcome: CompletionOutcome) => {
        if (ended) return;
        ended = true;
        sink.export(credentials, { projectId: credentials.projectId, traceId, spanId, start: info, outcome, endTime: performance.timeOrigin + performance.now() });
      },
    };
  }

  /** Waits for every finished completion's span to be exported (used by tests and shutdown). */
  async flush(): Promise<void> {
    await this.sink?.flush();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sink?.close();
  }
}
