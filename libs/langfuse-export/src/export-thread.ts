/**
 * The main thread's side of the export worker (export.worker.ts).
 *
 * Finished completions are collected for HANDOVER_MS and posted as one
 * message (structured clone: a few microseconds, where building and
 * serialising the spans costs tens); the worker acknowledges them through a
 * shared counter, so no message comes back per batch. A project's keys cross once, before its
 * first record, and again after a reload; they are never logged.
 *
 * Nothing is lost silently: records waiting for the worker are bounded by
 * LANGFUSE_EXPORT_QUEUE_SIZE (beyond it they are dropped and counted in the
 * log, as the SDK does with its own queue), and if the worker dies the log
 * says how many traces it held, and a new worker takes the next ones.
 */
import { Worker } from 'node:worker_threads';
import type { CompletionRecord, ExportCredentials, ExportLog, SpanExportOptions } from './span-export';

/** Main → worker. */
export type ThreadRequest =
  | { type: 'project'; credentials: { projectId: string; publicKey: string; secretKey: string; host: string } }
  | { type: 'records'; records: CompletionRecord[] }
  | { type: 'reset' }
  | { type: 'flush' | 'shutdown'; id: number };

/** Worker → main. */
export type ThreadReply =
  | { type: 'log'; level: 'error' | 'warn'; message: string }
  | { type: 'flushed'; id: number };

export interface ExportThreadOptions extends SpanExportOptions {
  /** Records handed over but not yet turned into spans, at most. */
  maxPending: number;
  /** The worker's entry script (the built export.worker.js). */
  script: string;
}

/** What the worker starts with. */
export interface WorkerOptions extends SpanExportOptions {
  /** [0]: records the worker has turned into spans (wraps like an int32), shared memory. */
  handled: Int32Array;
}

/**
 * Records wait this long on the main thread before crossing, so that at low
 * load a completion costs no thread wake-up of its own (flush() sends at once).
 */
const HANDOVER_MS = 20;

export class LangfuseExportThread {
  private worker?: Worker;
  private batch: CompletionRecord[] = [];
  private timer?: NodeJS.Timeout;
  /** Records posted to the current worker (wraps like an int32); it counts those it handled in `handled`. */
  private posted = 0;
  private handled = new Int32Array(new SharedArrayBuffer(4));
  private dropped = 0;
  private sent = new Map<string, ExportCredentials>();
  private nextId = 1;
  private readonly waiting = new Map<number, () => void>();
  private closing = false;

  constructor(
    private readonly options: ExportThreadOptions,
    private readonly log: ExportLog,
  ) {
    this.worker = this.spawn();
  }

  export(credentials: ExportCredentials, record: CompletionRecord): void {
    if (this.closing) {
      this.log('error', `The trace ${record.traceId} of project ${record.projectId} ended after the export shut down; it is not sent.`);
      return;
    }
    if (this.pending() >= this.options.maxPending) {
      if (this.dropped++ === 0) setTimeout(() => this.reportDrops(), 1000).unref();
      return;
    }
    const worker = this.worker ?? (this.worker = this.spawn());
    if (this.sent.get(credentials.projectId) !== credentials) {
      this.sendBatch();
      const { projectId, publicKey, secretKey, host } = credentials;
      worker.postMessage({ type: 'project', credentials: { projectId, publicKey, secretKey, host } } satisfies ThreadRequest);
      this.sent.set(projectId, credentials);
    }
    this.batch.push(record);
    this.timer ??= setTimeout(() => this.sendBatch(), HANDOVER_MS);
  }

  /** Records handed over and not yet turned into spans (acknowledged through shared memory, not messages). */
  private pending(): number {
    return ((this.posted - Atomics.load(this.handled, 0)) | 0) + this.batch.length;
  }

  /** The keys were reloaded: the worker closes every project's export; keys cross again when next used. */
  reset(): void {
    this.sendBatch();
    this.sent.clear();
    this.worker?.postMessage({ type: 'reset' } satisfies ThreadRequest);
  }

  /** Resolves when every record handed over so far has been exported (or its failure logged). */
  flush(): Promise<void> {
    return this.ask('flush');
  }

  /** Sends what was handed over, then stops the worker; later records are logged as not sent. */
  async close(): Promise<void> {
    const done = this.ask('shutdown');
    this.closing = true;
    await done;
    await this.worker?.terminate();
    this.worker = undefined;
  }

  private ask(type: 'flush' | 'shutdown'): Promise<void> {
    this.sendBatch();
    const worker = this.worker;
    if (!worker) return Promise.resolve();
    const id = this.nextId++;
    worker.ref();
    return new Promise((resolve) => {
      this.waiting.set(id, () => {
        if (this.waiting.size === 0) worker.unref();
        resolve();
      });
      worker.postMessage({ type, id } satisfies ThreadRequest);
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
      this.posted = (this.posted + records.length) | 0;
    } catch {
      // A record that cannot be cloned (a custom preprocessor's body with a function, say): send the others.
      for (const record of records) {
        try {
          this.worker.postMessage({ type: 'records', records: [record] } satisfies ThreadRequest);
          this.posted = (this.posted + 1) | 0;
        } catch (cloneErr) {
          this.log('error', `The trace ${record.traceId} of project ${record.projectId} could not be handed to the export thread: ${(cloneErr as Error).message}`);
        }
      }
    }
  }

  private spawn(): Worker {
    this.posted = 0;
    this.handled = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(this.options.script, { workerData: { ...workerOptions(this.options), handled: this.handled } satisfies WorkerOptions });
    // Only a pending flush keeps the process alive for the worker (see ask).
    worker.unref();
    worker.on('message', (reply: ThreadReply) => this.onReply(reply));
    worker.on('error', (err) => this.log('error', `The Langfuse export thread failed: ${err.stack ?? err.message}`));
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      // The next worker has no keys yet; records not yet posted go with the lost ones.
      const lost = this.pending();
      this.posted = Atomics.load(this.handled, 0);
      clearTimeout(this.timer);
      this.timer = undefined;
      this.batch = [];
      this.sent.clear();
      const waiting = [...this.waiting.values()];
      this.waiting.clear();
      for (const resolve of waiting) resolve();
      if (!this.closing) {
        this.log('error', `The Langfuse export thread stopped (exit code ${code}); ${lost} trace(s) handed to it may be lost. A new one takes the next traces.`);
      }
    });
    return worker;
  }

  private onReply(reply: ThreadReply): void {
    switch (reply.type) {
      case 'flushed': {
        const resolve = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        resolve?.();
        return;
      }
      case 'log':
        this.log(reply.level, reply.message);
        return;
    }
  }

  private reportDrops(): void {
    this.log('error', `${this.dropped} trace(s) dropped: the Langfuse export thread had ${this.options.maxPending} waiting (LANGFUSE_EXPORT_QUEUE_SIZE).`);
    this.dropped = 0;
  }
}

/** What the worker needs of the options (not the main thread's queue bound or the script). */
function workerOptions({ flushAt, flushInterval, environment, concurrency, maxQueue }: SpanExportOptions): SpanExportOptions {
  return { flushAt, flushInterval, environment, concurrency, maxQueue };
}
