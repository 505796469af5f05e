/**
 * Where the export runs, seen from the main thread: in a worker thread
 * (WorkerExport, LANGFUSE_EXPORT_WORKER=true) or right here
 * (InProcessExport). Both run the same ExportEngine.
 *
 * To the worker, records handed over directly (no Redis, or Redis
 * unreachable) cross every HANDOVER_MS as one structured clone; the worker
 * publishes what it took and its counters in shared memory, so no message
 * comes back per batch. Records waiting for the worker are bounded
 * (maxPending); beyond it they are dropped and logged with their rollouts.
 * If the worker dies, the log says how many traces it held in memory, and a
 * new worker takes over (those in the Redis stream are safe there).
 */
import { Worker } from 'node:worker_threads';
import { ExportCredentials, ExportLog } from './delivery';
import type { EngineOptions, ExportEngine, ExportStats } from './export-engine';
import { describeRollouts, TraceRecord } from './trace-record';

/** Main → worker. */
export type ThreadRequest =
  | { type: 'credentials'; credentials: ExportCredentials[] }
  | { type: 'start' }
  | { type: 'records'; records: TraceRecord[] }
  | { type: 'flush'; id: number; timeoutMs?: number }
  | { type: 'close'; id: number; timeoutMs: number };

/** Worker → main. */
export type ThreadReply =
  | { type: 'log'; level: 'error' | 'warn' | 'log'; message: string }
  | { type: 'flushed'; id: number }
  | { type: 'closed'; id: number; records: TraceRecord[] };

/** Slots of the shared counters the worker publishes. */
export const COUNTER = { taken: 0, exported: 1, dropped: 2, retriedBatches: 3, held: 4, failingProjects: 5 } as const;

/** What the worker starts with. */
export interface WorkerOptions extends EngineOptions {
  counters: Float64Array;
}

export interface HostStats extends ExportStats {
  /** Records handed over on the main thread, not yet taken by the export. */
  waiting: number;
}

/** The export, wherever it runs. */
export interface ExportHost {
  setCredentials(all: ExportCredentials[]): void;
  /** Starts reading the Redis trace stream, if there is one. */
  start(): void;
  /** A record held only in memory until Langfuse takes it. */
  add(record: TraceRecord): void;
  /** Resolves when what it holds is delivered, or after `timeoutMs`. */
  flush(timeoutMs?: number): Promise<void>;
  /** Stops; returns the records held only in memory that Langfuse has not taken. */
  close(timeoutMs: number): Promise<TraceRecord[]>;
  stats(): HostStats;
}

/** The export on the main thread (LANGFUSE_EXPORT_WORKER=false). */
export class InProcessExport implements ExportHost {
  private readonly engine: ExportEngine;

  constructor(options: EngineOptions, log: ExportLog) {
    // Loaded here, not at the top: with the worker (the default) the main
    // thread never loads the OpenTelemetry SDK and the OTLP exporter (RSS).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ExportEngine: Engine } = require('./export-engine') as typeof import('./export-engine');
    this.engine = new Engine(options, log);
  }

  setCredentials(all: ExportCredentials[]): void {
    this.engine.setCredentials(all);
  }

  start(): void {
    this.engine.start();
  }

  add(record: TraceRecord): void {
    this.engine.add([record]);
  }

  flush(timeoutMs?: number): Promise<void> {
    return this.engine.flush(timeoutMs);
  }

  close(timeoutMs: number): Promise<TraceRecord[]> {
    return this.engine.close(timeoutMs);
  }

  stats(): HostStats {
    return { ...this.engine.stats(), waiting: 0 };
  }
}

/**
 * Records wait this long on the main thread before crossing, so that at low
 * load a completion costs no thread wake-up of its own (flush() sends at once).
 */
const HANDOVER_MS = 20;

export interface WorkerExportOptions extends EngineOptions {
  /** The worker's entry script (the built export.worker.js). */
  script: string;
  /** Records handed over and not yet taken by the worker, at most. */
  maxPending: number;
}

export class WorkerExport implements ExportHost {
  private worker?: Worker;
  private batch: TraceRecord[] = [];
  private timer?: NodeJS.Timeout;
  /** Records posted to the current worker; it counts those it took in counters[taken]. */
  private posted = 0;
  private counters = newCounters();
  private credentials: ExportCredentials[] = [];
  private started = false;
  private nextId = 1;
  private readonly waiting = new Map<number, (records?: TraceRecord[]) => void>();
  private dropped: TraceRecord[] = [];
  private closing = false;
  /** Counters of workers that died, so the totals keep counting. */
  private readonly past = { exported: 0, dropped: 0, retriedBatches: 0 };

  constructor(
    private readonly options: WorkerExportOptions,
    private readonly log: ExportLog,
  ) {
    this.worker = this.spawn();
  }

  setCredentials(all: ExportCredentials[]): void {
    this.credentials = all.map(({ projectId, publicKey, secretKey, host }) => ({ projectId, publicKey, secretKey, host }));
    this.worker?.postMessage({ type: 'credentials', credentials: this.credentials } satisfies ThreadRequest);
  }

  start(): void {
    this.started = true;
    this.worker?.postMessage({ type: 'start' } satisfies ThreadRequest);
  }

  add(record: TraceRecord): void {
    if (this.closing) {
      this.drop(record, 'the export had shut down');
      return;
    }
    if (this.pending() >= this.options.maxPending) {
      this.drop(record, `${this.options.maxPending} were already waiting for the export thread (LANGFUSE_EXPORT_QUEUE_SIZE)`);
      return;
    }
    this.worker ??= this.spawn();
    this.batch.push(record);
    this.timer ??= setTimeout(() => this.sendBatch(), HANDOVER_MS);
  }

  flush(timeoutMs?: number): Promise<void> {
    return this.ask('flush', timeoutMs).then(() => undefined);
  }

  async close(timeoutMs: number): Promise<TraceRecord[]> {
    this.closing = true;
    const left = (await this.ask('close', timeoutMs)) ?? [];
    await this.worker?.terminate();
    this.worker = undefined;
    this.reportDrops();
    return left;
  }

  stats(): HostStats {
    const c = this.counters;
    return {
      exported: this.past.exported + c[COUNTER.exported],
      dropped: this.past.dropped + c[COUNTER.dropped] + this.dropped.length,
      retriedBatches: this.past.retriedBatches + c[COUNTER.retriedBatches],
      held: c[COUNTER.held],
      failingProjects: c[COUNTER.failingProjects],
      waiting: this.pending(),
    };
  }

  /** Records handed over and not yet taken by the worker. */
  private pending(): number {
    return this.posted - this.counters[COUNTER.taken] + this.batch.length;
  }

  private ask(type: 'flush' | 'close', timeoutMs?: number): Promise<TraceRecord[] | undefined> {
    this.sendBatch();
    const worker = this.worker;
    if (!worker) return Promise.resolve([]);
    const id = this.nextId++;
    worker.ref();
    return new Promise((resolve) => {
      this.waiting.set(id, (records) => {
        if (this.waiting.size === 0) worker.unref();
        resolve(records);
      });
      worker.postMessage((type === 'flush' ? { type, id, timeoutMs } : { type, id, timeoutMs: timeoutMs ?? 0 }) satisfies ThreadRequest);
    });
  }

  private sendBatch(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0 || !this.worker) return;
    const records = this.batch;
    this.batch = [];
    try {
      this.worker.postMessage({ type: 'records', records } satisfies ThreadRequest);
      this.posted += records.length;
    } catch {
      // A record that cannot be cloned (a custom preprocessor's body with a function, say): send the others.
      for (const record of records) {
        try {
          this.worker.postMessage({ type: 'records', records: [record] } satisfies ThreadRequest);
          this.posted += 1;
        } catch (err) {
          this.log('error', `The trace ${record.traceId} of project ${record.projectId} could not be handed to the export thread: ${(err as Error).message}`);
        }
      }
    }
  }

  private spawn(): Worker {
    this.posted = 0;
    this.counters = newCounters();
    const { script, maxPending, ...engine } = this.options;
    void maxPending;
    const worker = new Worker(script, { workerData: { ...engine, counters: this.counters } satisfies WorkerOptions });
    // Only a pending flush or close keeps the process alive for the worker (see ask).
    worker.unref();
    worker.on('message', (reply: ThreadReply) => this.onReply(reply));
    worker.on('error', (err) => this.log('error', `The Langfuse export thread failed: ${err.stack ?? err.message}`));
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const c = this.counters;
      const lost = this.pending() - this.batch.length + c[COUNTER.held];
      this.past.exported += c[COUNTER.exported];
      this.past.dropped += c[COUNTER.dropped];
      this.past.retriedBatches += c[COUNTER.retriedBatches];
      const waiting = [...this.waiting.values()];
      this.waiting.clear();
      for (const resolve of waiting) resolve([]);
      if (!this.closing) {
        this.log(
          'error',
          `The Langfuse export thread stopped (exit code ${code}); ${lost} trace(s) it held in memory may be lost (those in the Redis trace stream are safe). A new one takes over.`,
        );
        this.worker = this.spawn();
        if (this.credentials.length > 0) this.worker.postMessage({ type: 'credentials', credentials: this.credentials } satisfies ThreadRequest);
        if (this.started) this.worker.postMessage({ type: 'start' } satisfies ThreadRequest);
        if (this.batch.length > 0) this.timer ??= setTimeout(() => this.sendBatch(), HANDOVER_MS);
      }
    });
    return worker;
  }

  private onReply(reply: ThreadReply): void {
    switch (reply.type) {
      case 'flushed':
      case 'closed': {
        const resolve = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        resolve?.(reply.type === 'closed' ? reply.records : undefined);
        return;
      }
      case 'log':
        this.log(reply.level, reply.message);
        return;
    }
  }

  private dropWhy = '';

  private drop(record: TraceRecord, why: string): void {
    this.dropWhy = why;
    if (this.dropped.push(record) === 1) setTimeout(() => this.reportDrops(), 1000).unref();
  }

  private reportDrops(): void {
    if (this.dropped.length === 0) return;
    const dropped = this.dropped;
    this.dropped = [];
    this.past.dropped += dropped.length;
    this.log('error', `${dropped.length} trace(s) dropped, ${this.dropWhy}: lost for ${describeRollouts(dropped)}.`);
  }
}

function newCounters(): Float64Array {
  return new Float64Array(new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT * 6));
}
