import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CompletionOutcome, CompletionTrace, CompletionTraceStart, CompletionTracer, TracerStatus } from '@app/completion-forwarding';
import { CredentialVault } from '@app/credential-vault';
import { RedisConnection } from '@app/redis';
import { Spool } from '@app/spool';
import type { ExportCredentials, ExportLog } from './delivery';
import type { EngineOptions } from './export-engine';
import { ExportHost, InProcessExport, WorkerExport } from './export-thread';
import { LangfuseExportSettings } from './langfuse-export.settings';
import { toTraceRecord, TraceRecord } from './trace-record';
import { TraceOutbox } from './trace-outbox';

export interface LangfuseCompletionTracerOptions {
  /** The export worker's entry script; required with LANGFUSE_EXPORT_WORKER=true. */
  workerScript?: string;
}

const SPOOL_KIND = 'traces';
/** A stream entry pending this long with a consumer is that consumer's no more (it stopped): another takes it over. */
const CLAIM_IDLE_MS = 60_000;

/**
 * One Langfuse trace per completion, delivered durably.
 *
 * The trace and span ids are chosen when the completion starts (the client
 * gets the trace id as `x-langfuse-trace-id`); when it ends, the finished
 * record goes to the outbox (trace-outbox.ts: the Redis trace stream, or
 * memory) before the client's answer, and the export (delivery.ts) sends it
 * until Langfuse takes it — in a worker thread (LANGFUSE_EXPORT_WORKER,
 * default true) or on the main thread. At shutdown what the export holds
 * only in memory goes to the spool; the next start takes it over.
 */
@Injectable()
export class LangfuseCompletionTracer extends CompletionTracer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(LangfuseCompletionTracer.name);
  private readonly host?: ExportHost;
  private readonly outbox?: TraceOutbox;

  constructor(
    private readonly vault: CredentialVault,
    private readonly settings: LangfuseExportSettings,
    redis: RedisConnection,
    private readonly spool: Spool,
    options: LangfuseCompletionTracerOptions = {},
  ) {
    super();
    if (!settings.LANGFUSE_EXPORT) return;
    const log: ExportLog = (level, message) => (level === 'error' ? this.logger.error(message) : level === 'warn' ? this.logger.warn(message) : this.logger.log(message));
    const streamKey = redis.client && redis.topology ? redis.keys.shared('langfuse-traces') : undefined;
    const engine: EngineOptions = {
      flushAt: settings.LANGFUSE_FLUSH_AT,
      flushIntervalMs: settings.LANGFUSE_FLUSH_INTERVAL * 1000,
      environment: settings.LANGFUSE_ENVIRONMENT,
      concurrency: settings.LANGFUSE_EXPORT_CONCURRENCY,
      maxHeld: settings.LANGFUSE_EXPORT_QUEUE_SIZE,
      timeoutMs: settings.LANGFUSE_EXPORT_TIMEOUT_MS,
      stream: streamKey
        ? {
            connection: redis.topology!,
            key: streamKey,
            readAhead: Math.min(settings.LANGFUSE_EXPORT_QUEUE_SIZE, Math.max(1_024, settings.LANGFUSE_FLUSH_AT * settings.LANGFUSE_EXPORT_CONCURRENCY * 4)),
            claimIdleMs: CLAIM_IDLE_MS,
            consumerName: settings.LANGFUSE_EXPORT_CONSUMER,
          }
        : undefined,
    };
    if (settings.LANGFUSE_EXPORT_WORKER) {
      if (!options.workerScript) {
        throw new Error(
          'LANGFUSE_EXPORT_WORKER=true but the export worker script was not found (it is built next to langfuse-export.module.js by `npm run build`): build the gateway, or set LANGFUSE_EXPORT_WORKER=false.',
        );
      }
      this.host = new WorkerExport({ ...engine, script: options.workerScript, maxPending: settings.LANGFUSE_EXPORT_QUEUE_SIZE }, log);
    } else {
      this.host = new InProcessExport(engine, log);
    }
    this.outbox = new TraceOutbox(redis.client ? redis : undefined, this.host, settings.LANGFUSE_EXPORT_QUEUE_SIZE, log);
    this.logger.log(
      `Langfuse traces are exported ${settings.LANGFUSE_EXPORT_WORKER ? 'from a worker thread' : 'on the main thread (LANGFUSE_EXPORT_WORKER=false)'}; they wait ${streamKey ? 'in the Redis trace stream' : 'in memory'} until Langfuse takes them.`,
    );
    vault.onReload(() => this.host?.setCredentials(this.allCredentials()));
  }

  start(info: CompletionTraceStart): CompletionTrace | undefined {
    const outbox = this.outbox;
    if (!outbox) return undefined;
    const credentials = this.vault.findCredentials(info.projectId);
    if (!credentials) return undefined;
    const spanId = randomSpanId();
    const traceId = randomTraceId();
    let ended = false;
    return {
      traceId,
      end: (outcome: CompletionOutcome) => {
        if (ended) return Promise.resolve();
        ended = true;
        return outbox.append(toTraceRecord({ projectId: credentials.projectId, traceId, spanId }, info, outcome, performance.timeOrigin + performance.now()), info.requestBytes);
      },
    };
  }

  /** Hands over the keys, starts reading the trace stream, and takes over what a stopped gateway spooled. */
  onApplicationBootstrap(): void {
    const host = this.host;
    const outbox = this.outbox;
    if (!host || !outbox) return;
    host.setCredentials(this.allCredentials());
    host.start();
    const batches = this.spool.take<TraceRecord>(SPOOL_KIND);
    if (batches.length === 0) return;
    const count = batches.reduce((n, b) => n + b.items.length, 0);
    this.logger.log(`Took over ${count} trace(s) from ${batches.length} spool file(s) in ${this.spool.dir}; delivering them now.`);
    for (const batch of batches) void Promise.all(batch.items.map((record) => outbox.append(record))).then(() => batch.done());
  }

  /**
   * Waits until every trace this gateway handed over so far is delivered (or
   * given up on): none left in the trace stream, whichever replica took it,
   * and nothing held by this export (tests, benchmarks). Gives up waiting
   * after `timeoutMs`.
   */
  async flush(timeoutMs = 30_000): Promise<void> {
    const host = this.host;
    const outbox = this.outbox;
    if (!host || !outbox) return;
    const deadline = Date.now() + timeoutMs;
    // What this export holds goes out now; what another replica's export took from the stream goes
    // out on its schedule: done when none of this gateway's records is left in the stream.
    for (;;) {
      await host.flush(Math.max(0, Math.min(1_000, deadline - Date.now())));
      if ((await outbox.allDelivered()) || Date.now() >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async status(): Promise<TracerStatus | undefined> {
    if (!this.host || !this.outbox) return undefined;
    const host = this.host.stats();
    const outbox = await this.outbox.stats();
    return {
      waiting: outbox.mode === 'redis-stream' ? (outbox.streamLength ?? null) : host.held + host.waiting,
      failing: host.failingProjects > 0,
      held_in_memory: host.held + host.waiting,
      buffer: outbox.mode,
      buffer_size: this.settings.LANGFUSE_EXPORT_QUEUE_SIZE,
      exported: host.exported,
      dropped: host.dropped + outbox.refused,
      retried_batches: host.retriedBatches,
      memory_fallbacks: outbox.memoryFallbacks,
    };
  }

  async onApplicationShutdown(): Promise<void> {
    const host = this.host;
    if (!host) return;
    const left = await host.close(this.settings.LANGFUSE_EXPORT_DRAIN_SECONDS * 1000);
    if (left.length === 0) return;
    const file = this.spool.write(SPOOL_KIND, left);
    if (file) this.logger.warn(`Shutting down with ${left.length} trace(s) Langfuse has not taken: written to ${file}; the next gateway to start with this SPOOL_DIR delivers them.`);
    else this.logger.error(`Shutting down with ${left.length} trace(s) Langfuse has not taken and no spool to keep them: their rollouts stay incomplete.`);
  }

  private allCredentials(): ExportCredentials[] {
    return this.vault.projectIds().map((id) => this.vault.credentialsFor(id));
  }
}

/**
 * W3C trace and span ids (32 and 16 lowercase hex digits) from randomUUID,
 * which draws from a cached pool of random bytes: the main thread needs no
 * OpenTelemetry SDK for two ids. The trace id keeps the UUID's version digit
 * (122 random bits), so it is never the invalid all-zero id.
 */
function randomTraceId(): string {
  const u = randomUUID();
  return u.slice(0, 8) + u.slice(9, 13) + u.slice(14, 18) + u.slice(19, 23) + u.slice(24);
}

function randomSpanId(): string {
  const u = randomUUID();
  return u.slice(0, 8) + u.slice(24, 32);
}
