import { Delivery, DeliveryCounters, DeliveryOptions, ExportCredentials, ExportLog } from './delivery';
import { StreamConsumer, StreamConsumerOptions } from './trace-stream';
import type { TraceRecord } from './trace-record';

export interface EngineOptions extends DeliveryOptions {
  /** Read the Redis trace stream too (Redis configured). */
  stream?: StreamConsumerOptions;
}

export interface ExportStats extends DeliveryCounters {
  /** Traces held by the export now (being built, waiting, in flight, retrying). */
  held: number;
  /** Projects whose exports are paused after Langfuse did not take a batch. */
  failingProjects: number;
}

/**
 * Everything that runs where the export runs (the worker thread, or the main
 * thread): the delivery, fed by the Redis trace stream when there is one and
 * by records handed over directly (no Redis, or Redis unreachable).
 */
export class ExportEngine {
  readonly delivery: Delivery;
  private readonly consumer?: StreamConsumer;

  constructor(options: EngineOptions, log: ExportLog) {
    this.delivery = new Delivery(options, log);
    if (options.stream) this.consumer = new StreamConsumer(options.stream, this.delivery, log);
  }

  setCredentials(all: ExportCredentials[]): void {
    for (const credentials of all) this.delivery.setCredentials(credentials);
  }

  /** Starts reading the stream (after the credentials are in). */
  start(): void {
    this.consumer?.start();
  }

  add(records: TraceRecord[]): void {
    for (const record of records) this.delivery.add({ record, source: 'memory' });
  }

  flush(timeoutMs?: number): Promise<void> {
    return this.delivery.flush(timeoutMs);
  }

  /** Stops; returns the records held only in memory that Langfuse has not taken. */
  async close(timeoutMs: number): Promise<TraceRecord[]> {
    await this.consumer?.stop();
    const left = await this.delivery.close(timeoutMs);
    await this.consumer?.close();
    return left;
  }

  stats(): ExportStats {
    return { ...this.delivery.counters, held: this.delivery.held, failingProjects: this.delivery.failingProjects };
  }
}
