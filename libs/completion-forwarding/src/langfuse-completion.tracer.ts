import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { RandomIdGenerator } from '@opentelemetry/sdk-trace-base';
import { CredentialVault } from '@app/credential-vault';
import { CompletionOutcome, CompletionTrace, CompletionTraceStart, CompletionTracer } from './completion.tracer';
import { tracingConfig } from './forwarding.config';
import { LangfuseExportThread } from './langfuse-export.thread';
import { CompletionRecord, ExportCredentials, ExportLog, LangfuseSpanExport, reportExportFailures } from './langfuse-span-export';

/** Where finished completions go: the span export itself, or the worker thread that runs it. */
interface ExportSink {
  export(credentials: ExportCredentials, record: CompletionRecord): void;
  flush(): Promise<void>;
  reset(): void;
  close(): Promise<void>;
}

/**
 * One Langfuse trace per completion, exported with the SDK's
 * LangfuseSpanProcessor (see langfuse-span-export.ts).
 *
 * The trace and span ids are chosen when the completion starts (the client
 * gets the trace id as `x-langfuse-trace-id`); when it ends, the finished
 * record goes to the export, which runs in a worker thread
 * (LANGFUSE_EXPORT_WORKER, default true) or here, on the main thread.
 *
 * The worker takes the export off the request path: the main thread's share
 * drops from about 65 to 7 µs per completion (records cross in one
 * structured clone per 20 ms), and the spans' garbage lives in the worker's
 * own heap. On one CPU that is still about +5 % throughput; the price is the
 * worker's heap (README, Benchmarks).
 */
@Injectable()
export class LangfuseCompletionTracer extends CompletionTracer implements OnApplicationShutdown {
  private readonly logger = new Logger(LangfuseCompletionTracer.name);
  private readonly ids = new RandomIdGenerator();
  private readonly sink?: ExportSink;

  constructor(
    private readonly vault: CredentialVault,
    @Inject(tracingConfig.KEY) private readonly config: ConfigType<typeof tracingConfig>,
  ) {
    super();
    if (!config.LANGFUSE_EXPORT) return;
    // BatchSpanProcessor reads its queue bound from the environment only (a
    // worker copies it when it starts); the project's processors share
    // LANGFUSE_EXPORT_QUEUE_SIZE.
    process.env.OTEL_BSP_MAX_QUEUE_SIZE ??= String(Math.ceil(config.LANGFUSE_EXPORT_QUEUE_SIZE / config.LANGFUSE_EXPORT_CONCURRENCY));
    const options = {
      flushAt: config.LANGFUSE_FLUSH_AT,
      flushInterval: config.LANGFUSE_FLUSH_INTERVAL,
      environment: config.LANGFUSE_ENVIRONMENT,
      concurrency: config.LANGFUSE_EXPORT_CONCURRENCY,
    };
    const log: ExportLog = (level, message) => (level === 'error' ? this.logger.error(message) : this.logger.warn(message));
    if (config.LANGFUSE_EXPORT_WORKER) {
      this.sink = new LangfuseExportThread({ ...options, maxPending: config.LANGFUSE_EXPORT_QUEUE_SIZE }, log);
    } else {
      reportExportFailures(log);
      const spans = new LangfuseSpanExport(options, log);
      this.sink = { export: (c, r) => spans.export(c, r), flush: () => spans.flush(), reset: () => void spans.shutdown(), close: () => spans.shutdown() };
    }
    this.logger.log(`Langfuse traces are exported ${config.LANGFUSE_EXPORT_WORKER ? 'from a worker thread' : 'on the main thread (LANGFUSE_EXPORT_WORKER=false)'}.`);
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
