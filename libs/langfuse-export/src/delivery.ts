/**
 * Durable delivery of finished completions to Langfuse: every trace handed
 * to it is sent until Langfuse takes it. It runs in the export worker thread
 * (or on the main thread with LANGFUSE_EXPORT_WORKER=false) and imports
 * nothing from Nest or through the `@app/*` aliases at run time.
 *
 * Per project: the record becomes an OpenTelemetry span through the SDK's
 * LangfuseSpanProcessor (immediate mode), whose exporter is this lane's
 * intake; spans are batched (flushAt / flush interval) and up to
 * `concurrency` batches are in flight (OtlpClient). A batch Langfuse does not
 * take is put back and the lane pauses: Retry-After when Langfuse sends one,
 * else exponential backoff up to a minute (at least 30 s for rejected keys,
 * which a secrets reload may fix). A batch Langfuse refuses as malformed
 * (400, 413, 422) is split until the one trace it refuses is found, and that
 * one is dropped, loudly. Only a full buffer (`maxHeld`) drops anything else,
 * loudly: the count and the rollouts, once a second.
 *
 * What holds the records between the gateway and this engine (a Redis
 * stream, or memory) is told through `settle`: 'delivered' once Langfuse
 * took the trace, 'dropped' once it never will.
 */
import { SpanStatusCode, Tracer } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { BasicTracerProvider, IdGenerator, ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { LANGFUSE_SDK_VERSION, LANGFUSE_TRACER_NAME } from '@langfuse/core';
import { LangfuseSpanProcessor } from '@langfuse/otel';
import { generationEndAttributes, generationStartAttributes, TRACE_NAME } from './generation-attributes';
import { OtlpClient, SendResult } from './otlp.client';
import { describeRollouts, TraceRecord } from './trace-record';

/** A project's Langfuse connection (LangfuseCredentials satisfies it). Plain data: it crosses to the worker thread. */
export interface ExportCredentials {
  readonly projectId: string;
  readonly publicKey: string;
  readonly secretKey: string;
  readonly host: string;
}

export interface DeliveryOptions {
  flushAt: number;
  flushIntervalMs: number;
  /** Batches in flight per project. */
  concurrency: number;
  /** Traces held at most (being built, waiting, in flight, retrying). */
  maxHeld: number;
  environment?: string;
  /** Per export request. */
  timeoutMs: number;
}

export type ExportLog = (level: 'error' | 'warn' | 'log', message: string) => void;

export interface DeliveryItem {
  record: TraceRecord;
  /** Where it waits meanwhile: a Redis stream (durable) or only here, in memory. */
  source: 'stream' | 'memory';
  settle?: (outcome: 'delivered' | 'dropped') => void;
}

export interface DeliveryCounters {
  /** Traces Langfuse took. */
  exported: number;
  /** Traces dropped for good (buffer full, refused by Langfuse, project gone). */
  dropped: number;
  /** Batches that failed and were put back. */
  retriedBatches: number;
}

const SUCCESS = 0; // ExportResultCode.SUCCESS
const BACKOFF_BASE_MS = 1_000;
/** Short enough that traces flow again within seconds of Langfuse coming back; a paused project costs Langfuse one request per this. */
const BACKOFF_MAX_MS = 10_000;
const AUTH_BACKOFF_MS = 30_000;
const WARN_EVERY_MS = 30_000;

interface Held {
  item: DeliveryItem;
  span?: ReadableSpan;
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

class Lane {
  /** Spans being built by the processor, by span id. */
  readonly building = new Map<string, Held>();
  queue: Held[] = [];
  /** Batches being sent. */
  readonly sending = new Set<Held[]>();
  /** Smaller batches while isolating a trace Langfuse refuses. */
  batchLimit: number;
  pausedUntil = 0;
  backoffMs = 0;
  lastWarnAt = 0;
  timer?: NodeJS.Timeout;
  client?: OtlpClient;
  credentials?: ExportCredentials;
  readonly provider: BasicTracerProvider;
  readonly tracer: Tracer;

  constructor(
    readonly projectId: string,
    ids: IdGenerator,
    flushAt: number,
    environment: string | undefined,
    intake: (lane: Lane, span: ReadableSpan) => void,
  ) {
    this.batchLimit = flushAt;
    const exporter: SpanExporter = {
      export: (spans: ReadableSpan[], done: (result: ExportResult) => void) => {
        for (const span of spans) intake(this, span);
        done({ code: SUCCESS });
      },
      shutdown: async () => undefined,
    };
    const processor = new LangfuseSpanProcessor({ exporter, exportMode: 'immediate', environment, mediaUploadEnabled: false });
    this.provider = new BasicTracerProvider({ idGenerator: ids, spanProcessors: [processor] });
    // The SDK's own scope name: Langfuse copies every span attribute into the
    // observation metadata for spans of other instrumentation scopes.
    this.tracer = this.provider.getTracer(LANGFUSE_TRACER_NAME, LANGFUSE_SDK_VERSION);
  }

  get inFlight(): number {
    return this.sending.size;
  }

  get held(): number {
    let held = this.building.size + this.queue.length;
    for (const batch of this.sending) held += batch.length;
    return held;
  }
}

export class Delivery {
  private readonly lanes = new Map<string, Lane>();
  private readonly credentials = new Map<string, ExportCredentials>();
  private readonly ids = new PresetIds();
  private heldCount = 0;
  private forcing = 0;
  private idleWaiters: Array<() => void> = [];
  private dropped: TraceRecord[] = [];
  private dropWhy = '';
  private dropTimer?: NodeJS.Timeout;
  private closed = false;
  /** Set by close() once it stops waiting: flushes then return at once. */
  private stopWaiting = false;
  readonly counters: DeliveryCounters = { exported: 0, dropped: 0, retriedBatches: 0 };

  constructor(
    private readonly options: DeliveryOptions,
    private readonly log: ExportLog,
  ) {}

  /** Traces held now: being built, waiting, in flight or waiting to be retried. */
  get held(): number {
    return this.heldCount;
  }

  /** Projects whose exports are paused after a failure (Langfuse did not take a batch). */
  get failingProjects(): number {
    const now = Date.now();
    let failing = 0;
    for (const lane of this.lanes.values()) if (lane.pausedUntil > now) failing++;
    return failing;
  }

  /** A project's Langfuse connection (again after a secrets reload): its traces go out with these keys from now on. */
  setCredentials(credentials: ExportCredentials): void {
    this.credentials.set(credentials.projectId, credentials);
    const lane = this.lanes.get(credentials.projectId);
    if (!lane || sameConnection(lane.credentials, credentials)) return;
    lane.client?.close();
    lane.client = new OtlpClient(credentials, this.options.timeoutMs);
    lane.credentials = credentials;
    // New keys: what waited (perhaps for keys Langfuse rejected) goes out now.
    lane.pausedUntil = 0;
    lane.backoffMs = 0;
    clearTimeout(lane.timer);
    lane.timer = undefined;
    this.pump(lane, true);
  }

  /**
   * Takes a trace to deliver. False when it cannot: a trace held only in
   * memory is then dropped, loudly; one from the stream stays there, pending,
   * for later (its source keeps it).
   */
  add(item: DeliveryItem): boolean {
    const { record } = item;
    if ((this.closed || this.heldCount >= this.options.maxHeld) && item.source === 'stream') return false;
    if (this.closed || this.heldCount >= this.options.maxHeld) {
      this.drop([item], this.closed ? 'the export had shut down' : `${this.options.maxHeld} traces were already waiting for Langfuse (LANGFUSE_EXPORT_QUEUE_SIZE)`);
      return false;
    }
    if (!this.credentials.has(record.projectId)) {
      this.drop([item], `project ${record.projectId} has no Langfuse keys in the secrets file`);
      return false;
    }
    this.heldCount++;
    const lane = this.laneFor(record.projectId);
    lane.building.set(record.spanId, { item });
    this.ids.traceId = record.traceId;
    this.ids.spanId = record.spanId;
    const span = lane.tracer.startSpan(TRACE_NAME, { startTime: record.startTime, attributes: generationStartAttributes(record, this.options.environment) });
    span.setAttributes(generationEndAttributes(record, record.model));
    if (record.error) span.setStatus({ code: SpanStatusCode.ERROR, message: record.error });
    span.end(record.endTime);
    return true;
  }

  /** Sends what is held, also in partial batches; resolves when nothing is held (or after `timeoutMs`). */
  async flush(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.forcing++;
    try {
      // Spans still inside the SDK's processor reach their lane first.
      await Promise.all([...this.lanes.values()].map((lane) => lane.provider.forceFlush()));
      for (const lane of this.lanes.values()) this.pump(lane);
      if (this.heldCount === 0 || this.stopWaiting) return;
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(timeoutMs) ? setTimeout(resolve, timeoutMs) : undefined;
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    } finally {
      this.forcing--;
    }
  }

  /**
   * Stops taking traces, tries to deliver what is held for up to `timeoutMs`
   * (not retrying projects whose last export failed), and returns the records held only in memory that Langfuse has not taken
   * (for the spool); those of a stream stay pending there.
   */
  async close(timeoutMs: number): Promise<TraceRecord[]> {
    const deadline = Date.now() + timeoutMs;
    const flushed = this.flush(timeoutMs);
    // Stop waiting once every project still holding traces is paused after a
    // failure: Langfuse is failing, and what waits is safe in the stream or
    // the spool for the next gateway; no point holding the shutdown for it.
    let done = false;
    void flushed.then(() => (done = true));
    while (!done && Date.now() < deadline && !this.allPaused()) await new Promise((r) => setTimeout(r, 50));
    this.stopWaiting = true;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
    await flushed;
    this.closed = true;
    const left: TraceRecord[] = [];
    for (const lane of this.lanes.values()) {
      clearTimeout(lane.timer);
      for (const held of [...lane.building.values(), ...lane.queue, ...[...lane.sending].flat()]) if (held.item.source === 'memory') left.push(held.item.record);
      lane.building.clear();
      lane.queue = [];
      lane.client?.close();
      await lane.provider.shutdown().catch(() => undefined);
    }
    this.reportDrops();
    return left;
  }

  /** True when every lane holding traces has nothing in flight and is paused after a failure. */
  private allPaused(): boolean {
    const now = Date.now();
    for (const lane of this.lanes.values()) {
      if (lane.held === 0) continue;
      if (lane.inFlight > 0 || lane.building.size > 0 || lane.pausedUntil <= now) return false;
    }
    return true;
  }

  private laneFor(projectId: string): Lane {
    let lane = this.lanes.get(projectId);
    if (!lane) {
      lane = new Lane(projectId, this.ids, this.options.flushAt, this.options.environment, (l, span) => this.intake(l, span));
      const credentials = this.credentials.get(projectId);
      if (credentials) {
        lane.credentials = credentials;
        lane.client = new OtlpClient(credentials, this.options.timeoutMs);
      }
      this.lanes.set(projectId, lane);
    }
    return lane;
  }

  private intake(lane: Lane, span: ReadableSpan): void {
    const held = lane.building.get(span.spanContext().spanId);
    if (!held) return;
    lane.building.delete(span.spanContext().spanId);
    held.span = span;
    lane.queue.push(held);
    this.pump(lane);
  }

  /** Sends full batches while there is room in flight (every batch when flushing or when the interval ran out). */
  private pump(lane: Lane, partial = false): void {
    if (this.closed || !lane.client) return;
    const now = Date.now();
    if (now < lane.pausedUntil) {
      this.arm(lane, lane.pausedUntil - now, true);
      return;
    }
    const limit = lane.batchLimit;
    const sendPartial = partial || this.forcing > 0;
    while (lane.inFlight < this.options.concurrency && lane.queue.length > 0 && (sendPartial || lane.queue.length >= limit)) {
      this.send(lane, lane.queue.splice(0, limit));
    }
    if (lane.queue.length > 0) this.arm(lane, this.options.flushIntervalMs, false);
  }

  private arm(lane: Lane, ms: number, replace: boolean): void {
    if (lane.timer && !replace) return;
    clearTimeout(lane.timer);
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      this.pump(lane, true);
    }, ms);
    lane.timer.unref();
  }

  private send(lane: Lane, batch: Held[]): void {
    lane.sending.add(batch);
    const client = lane.client!;
    client.send(batch.map((h) => h.span!)).then((result) => {
      lane.sending.delete(batch);
      if (this.closed) return;
      if (result.ok) {
        lane.backoffMs = 0;
        if (lane.batchLimit < this.options.flushAt && lane.inFlight === 0) lane.batchLimit = Math.min(this.options.flushAt, lane.batchLimit * 2);
        this.counters.exported += batch.length;
        this.settle(batch, 'delivered');
      } else if (result.retryable) {
        lane.queue.unshift(...batch);
        this.counters.retriedBatches++;
        this.pause(lane, result, batch);
      } else if (batch.length > 1) {
        // One trace in the batch is refused: halve the batches until it is alone.
        lane.queue.unshift(...batch);
        lane.batchLimit = Math.max(1, Math.floor(batch.length / 2));
      } else {
        this.log('error', `Langfuse refused a trace of project ${lane.projectId} for good (${result.reason}); it is dropped: ${describeRollouts(batch.map((h) => h.item.record))}.`);
        this.counters.dropped++;
        this.settle(batch, 'dropped');
      }
      this.pump(lane);
      this.checkIdle();
    });
  }

  private pause(lane: Lane, result: Extract<SendResult, { ok: false }>, batch: Held[]): void {
    const auth = result.status === 401 || result.status === 403;
    lane.backoffMs = Math.min(Math.max(lane.backoffMs * 2, BACKOFF_BASE_MS), BACKOFF_MAX_MS);
    const wait = Math.max(result.retryAfterMs ?? Math.round(lane.backoffMs * (0.8 + Math.random() * 0.4)), auth ? AUTH_BACKOFF_MS : 0);
    lane.pausedUntil = Date.now() + wait;
    const now = Date.now();
    if (now - lane.lastWarnAt >= WARN_EVERY_MS || lane.backoffMs === BACKOFF_BASE_MS) {
      lane.lastWarnAt = now;
      const hint = auth ? ' — Langfuse rejects the keys: fix langfuse_keys and reload the secrets (SIGHUP)' : '';
      this.log(
        auth ? 'error' : 'warn',
        `Langfuse did not take ${batch.length} trace(s) of project ${lane.projectId} (${result.reason}) for ${describeRollouts(batch.map((h) => h.item.record))}; ` +
          `retrying in ${(wait / 1000).toFixed(1)} s, ${lane.held} waiting${hint}.`,
      );
    }
    this.arm(lane, wait, true);
  }

  private settle(batch: Held[], outcome: 'delivered' | 'dropped'): void {
    for (const h of batch) {
      this.heldCount--;
      h.item.settle?.(outcome);
    }
  }

  private checkIdle(): void {
    if (this.heldCount > 0 || this.idleWaiters.length === 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private drop(items: DeliveryItem[], why: string): void {
    this.counters.dropped += items.length;
    for (const item of items) {
      this.dropped.push(item.record);
      item.settle?.('dropped');
    }
    this.dropWhy = why;
    this.dropTimer ??= setTimeout(() => this.reportDrops(), 1_000).unref();
  }

  private reportDrops(): void {
    clearTimeout(this.dropTimer);
    this.dropTimer = undefined;
    if (this.dropped.length === 0) return;
    const dropped = this.dropped;
    this.dropped = [];
    this.log('error', `${dropped.length} trace(s) dropped, ${this.dropWhy}: lost for ${describeRollouts(dropped)}, whose /traces stay incomplete.`);
  }
}

function sameConnection(a: ExportCredentials | undefined, b: ExportCredentials): boolean {
  return a !== undefined && a.publicKey === b.publicKey && a.secretKey === b.secretKey && a.host === b.host;
}
