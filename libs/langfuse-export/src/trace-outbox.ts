import type { ChainableCommander } from 'ioredis';
import { withDeadline } from '@app/common';
import { RedisConnection } from '@app/redis';
import type { ExportLog } from './delivery';
import type { ExportHost } from './export-thread';
import { describeRollouts, TraceRecord } from './trace-record';
import { APPEND_SCRIPT } from './trace-stream';

type WithAppend = ChainableCommander & { mgwTraceAppend(key: string, max: number, record: string): ChainableCommander };

/**
 * The longest a completion waits for Redis to confirm its trace is in the
 * stream before the record is kept in memory instead (Redis unreachable or
 * slow): the same bound as a registration's.
 */
const APPEND_DEADLINE_MS = 250;

export interface OutboxStats {
  /** Where records wait: the Redis trace stream, or this process's memory. */
  mode: 'redis-stream' | 'memory';
  /** Records in the stream (every replica's), when there is one and it answers. */
  streamLength?: number;
  /** Appends that went to memory because Redis did not confirm them in time. */
  memoryFallbacks: number;
  /** Records refused because the stream was full. */
  refused: number;
}

/**
 * Where a finished completion goes first, before the client's answer: the
 * bounded Redis trace stream (trace-stream.ts) when Redis is configured, so a
 * restart or another replica delivers it; else, or while Redis does not
 * answer within 250 ms, the export's memory. append() never rejects: a record
 * that cannot be kept (full stream) is dropped and logged with its rollout.
 */
export class TraceOutbox {
  private readonly key?: string;
  private memoryFallbacks = 0;
  /** The id of the newest entry this gateway appended. */
  private lastId?: string;
  private refused: TraceRecord[] = [];
  private refusedTotal = 0;

  constructor(
    private readonly redis: RedisConnection | undefined,
    private readonly host: ExportHost,
    private readonly maxLength: number,
    private readonly log: ExportLog,
  ) {
    const client = redis?.client;
    if (!client || !redis) return;
    this.key = redis.keys.shared('langfuse-traces');
    if (typeof (client as unknown as Partial<WithAppend>).mgwTraceAppend !== 'function') client.defineCommand('mgwTraceAppend', { numberOfKeys: 1, lua: APPEND_SCRIPT });
  }

  /** The stream's key (worker options), when there is one. */
  get streamKey(): string | undefined {
    return this.key;
  }

  /** `requestBytes`: record.request's JSON as the client sent it (CompletionTraceStart.requestBytes), used as is. */
  async append(record: TraceRecord, requestBytes?: Buffer): Promise<void> {
    const { redis, key } = this;
    if (!redis?.batcher || !key || !redis.ready) return this.toMemory(record);
    let json: string;
    try {
      json = recordJson(record, requestBytes);
    } catch {
      return this.toMemory(record);
    }
    let stored: unknown;
    try {
      stored = await withDeadline(redis.batcher.call(key, (p) => (p as WithAppend).mgwTraceAppend(key, this.maxLength, json)), APPEND_DEADLINE_MS);
    } catch {
      return this.toMemory(record);
    }
    if (typeof stored === 'string') {
      // Stream ids only grow, and the replies of one connection come in order: the latest is the newest.
      this.lastId = stored;
    } else {
      this.refuse(record);
    }
  }

  /**
   * True when no record this gateway appended to the stream is still in it:
   * an entry leaves the stream once Langfuse took its trace (or it was
   * dropped, loudly), whichever replica's export delivered it.
   */
  async allDelivered(): Promise<boolean> {
    const { redis, key, lastId } = this;
    if (!key || !lastId || !redis?.client) return true;
    const oldest = await redis.client.xrange(key, '-', lastId, 'COUNT', 1);
    return oldest.length === 0;
  }

  async stats(): Promise<OutboxStats> {
    const stats: OutboxStats = { mode: this.key ? 'redis-stream' : 'memory', memoryFallbacks: this.memoryFallbacks, refused: this.refusedTotal };
    if (this.key && this.redis?.ready) stats.streamLength = await withDeadline(this.redis.client!.xlen(this.key), 1_000).catch(() => undefined);
    return stats;
  }

  private toMemory(record: TraceRecord): void {
    if (this.key) this.memoryFallbacks++;
    this.host.add(record);
  }

  private refuse(record: TraceRecord): void {
    this.refusedTotal++;
    if (this.refused.push(record) > 1) return;
    setTimeout(() => {
      const refused = this.refused;
      this.refused = [];
      this.log('error', `${refused.length} trace(s) dropped: the Redis trace stream already held ${this.maxLength} waiting for Langfuse (LANGFUSE_EXPORT_QUEUE_SIZE); lost for ${describeRollouts(refused)}.`);
    }, 1_000).unref();
  }
}

/**
 * The record as JSON. With the request's own bytes, those go in as they are
 * (they are JSON: the body parser parsed them into record.request) and only
 * the rest is serialised: a long prompt is decoded once more but not
 * serialised again on the main thread (9 µs instead of 70 for a 64 KB
 * prompt). The reader's JSON.parse gives the same record either way. A
 * string, not a Buffer: ioredis writes a pipeline of strings without copying
 * it into buffers.
 */
export function recordJson(record: TraceRecord, requestBytes?: Buffer): string {
  if (requestBytes === undefined || requestBytes.length === 0) return JSON.stringify(record);
  const rest = JSON.stringify({ ...record, request: undefined });
  // rest is `{"projectId":…}`: the request goes first, the rest after its comma.
  return `{"request":${requestBytes.toString('utf8')},${rest.slice(1)}`;
}
