/**
 * The Redis stream finished completions wait in (Redis configured) until
 * Langfuse has taken their traces: the gateway appends each record before
 * the client gets its answer, and every replica's export reads the stream
 * through one consumer group, acknowledging (and deleting) an entry only once
 * Langfuse took its trace. A replica that dies leaves its entries pending;
 * after CLAIM_IDLE_MS another replica (or the next start) claims them. The
 * stream is bounded: an append to a full stream is refused, and the caller
 * drops that record loudly.
 *
 * Runs in the export worker thread: no Nest, no `@app/*` aliases at run time.
 */
import Redis, { Cluster, RedisOptions } from 'ioredis';
// Types only (erased): this file runs in the export worker, which loads no Nest lib.
import type { RedisClient, RedisTopology } from '@app/redis';
import { hostname } from 'node:os';
import type { Delivery, ExportLog } from './delivery';
import type { TraceRecord } from './trace-record';

export const STREAM_GROUP = 'langfuse-export';
const FIELD = 'r';

/** XADD unless the stream already holds `max` entries: the new entry's id, or 0 when full. */
export const APPEND_SCRIPT = `if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
return redis.call('XADD', KEYS[1], '*', '${FIELD}', ARGV[2])`;

/** Stream ids ("ms-seq") in order. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

export interface StreamConsumerOptions {
  /** Where Redis is (one node, a cluster, Sentinel): the gateway's RedisConnection.topology. Holds the password: never log it. */
  connection: RedisTopology;
  key: string;
  /** Records taken from the stream but not yet delivered, at most (the rest waits in Redis). */
  readAhead: number;
  /** An entry pending this long with another consumer is taken over (that consumer is gone). */
  claimIdleMs: number;
  /** This consumer's name in the group; default: the host name, so a restart takes its own pending entries back. */
  consumerName?: string;
}

const READ_BLOCK_MS = 1_000;
/** How long entries just read wait before they are taken (see run()). */
const TAKE_DELAY_MS = 5;

export class StreamConsumer {
  private readonly reader: RedisClient;
  private readonly writer: RedisClient;
  private readonly name: string;
  /** Entries handed to the delivery and not settled yet. */
  private readonly mine = new Set<string>();
  private acks: string[] = [];
  /** Settled entries whose XACK has not been confirmed yet: not to be taken again meanwhile. */
  private readonly acking = new Set<string>();
  private ackTimer?: NodeJS.Immediate;
  private claimTimer?: NodeJS.Timeout;
  private stopped = false;
  private stoppedAt = 0;
  private loop?: Promise<void>;
  private lastError = '';
  /** Set after a reconnect or a failed read: take the own pending entries again before reading new ones. */
  private resync = false;

  constructor(
    private readonly options: StreamConsumerOptions,
    private readonly delivery: Delivery,
    private readonly log: ExportLog,
  ) {
    this.name = options.consumerName ?? hostname();
    const retryStrategy = (times: number) => Math.min(times * 200, 2_000);
    // Named so an operator tells them apart in CLIENT LIST.
    this.reader = connect(options.connection, { maxRetriesPerRequest: 1, retryStrategy, connectionName: `mgw-trace-reader:${this.name}` });
    this.writer = connect(options.connection, { maxRetriesPerRequest: 1, retryStrategy, connectionName: `mgw-trace-writer:${this.name}` });
    // Connection errors surface on the commands; the loop reports them once.
    this.reader.on('error', () => undefined);
    // A read whose answer was lost with the connection left entries pending
    // under this name that nothing here holds: look at the own pending list
    // again after every reconnect (ioredis may resend the read silently).
    let connectedOnce = false;
    this.reader.on('ready', () => {
      if (connectedOnce) this.resync = true;
      connectedOnce = true;
    });
    this.writer.on('error', () => undefined);
  }

  start(): void {
    this.loop = this.run();
    // Often enough that a live consumer's entries never look idle to the others.
    this.claimTimer = setInterval(() => void this.claim(), Math.max(100, Math.floor(this.options.claimIdleMs / 3)));
    this.claimTimer.unref();
  }

  /**
   * Stops reading, after one last read of what was appended up to now (the
   * gateway's last answers). The delivery then drains, and close() sends the
   * acknowledgements of what it delivered; what is not delivered stays
   * pending in the stream for the next consumer.
   */
  async stop(): Promise<void> {
    if (!this.stopped) this.stoppedAt = Date.now();
    this.stopped = true;
    clearInterval(this.claimTimer);
    await this.loop;
  }

  /** After stop() and the delivery's drain: acknowledges what was delivered, and disconnects. */
  async close(): Promise<void> {
    await this.stop();
    clearImmediate(this.ackTimer);
    await this.flushAcks();
    await Promise.all([close(this.reader), close(this.writer)]);
  }

  private async run(): Promise<void> {
    await Promise.all([this.reader.connect().catch(() => undefined), this.writer.connect().catch(() => undefined)]);
    let grouped = false;
    while (!this.stopped) {
      try {
        if (!grouped) {
          await this.writer.xgroup('CREATE', this.options.key, STREAM_GROUP, '0', 'MKSTREAM').catch((err: Error) => {
            if (!/BUSYGROUP/.test(err.message)) throw err;
          });
          grouped = true;
          this.resync = false;
          await this.takeBackOwn('this gateway left in the trace stream when it last stopped');
          await this.claim();
        }
        if (this.resync) {
          this.resync = false;
          await this.takeBackOwn('still pending under this gateway\'s name after the connection to Redis dropped (handed over unseen, or not acknowledged; Langfuse keeps a span id once)');
        }
        const room = this.options.readAhead - this.delivery.held;
        if (room <= 0) {
          await sleep(50);
          continue;
        }
        const entries = await this.read(Math.min(room, 512), '>', READ_BLOCK_MS);
        if (entries.length > 0) {
          // The read answers the moment a completion appends its trace, while
          // that completion's answer is still being written: taking the
          // entries at once (span building, on the same cores) delayed it.
          await sleep(TAKE_DELAY_MS);
          this.take(entries);
        }
        this.recovered();
      } catch (err) {
        this.failed('read the trace stream', err);
        this.resync = true;
        await sleep(1_000);
      }
    }
    await this.catchUp();
  }

  /**
   * The loop stops between reads, and an entry appended in between (a
   * completion answered just before the shutdown) would wait in the stream
   * for the next start: read what is there now, without blocking, up to what
   * was appended when stop() was called. The drain that follows exports it.
   */
  private async catchUp(): Promise<void> {
    try {
      for (;;) {
        const room = this.options.readAhead - this.delivery.held;
        if (room <= 0) return;
        const entries = await this.read(Math.min(room, 512), '>');
        if (entries.length === 0) return;
        this.take(entries);
        // Appended after this gateway stopped answering: another replica's, which it reads on.
        if (Number(entries[entries.length - 1][0].split('-')[0]) > this.stoppedAt) return;
      }
    } catch (err) {
      this.failed('read the last entries of the trace stream', err);
    }
  }

  /**
   * Entries pending under this consumer name that this process does not
   * hold: left by its previous run (a restart under the same name), or
   * handed over by a read whose answer was lost.
   */
  private async takeBackOwn(why: string): Promise<void> {
    let after = '0';
    let taken = 0;
    while (!this.stopped) {
      const room = this.options.readAhead - this.delivery.held;
      if (room <= 0) {
        await sleep(50);
        continue;
      }
      const entries = await this.read(Math.min(room, 256), after);
      if (entries.length === 0) break;
      after = entries[entries.length - 1][0];
      for (const [id, fields] of entries) {
        if (fields === null) this.ack(id); // deleted from the stream meanwhile
        else if (!this.mine.has(id) && !this.acking.has(id)) taken++;
      }
      this.take(entries);
    }
    if (taken > 0) this.log('log', `Took back ${taken} trace(s) ${why}.`);
  }

  /** Takes over entries another consumer left pending too long, and keeps this consumer's own entries from looking idle. */
  private async claim(): Promise<void> {
    if (this.stopped) return;
    try {
      const ids = [...this.mine];
      for (let i = 0; i < ids.length; i += 500) {
        // (the cluster client takes the same arguments; TypeScript's overloads do not resolve on the union)
        await (this.writer as Redis).xclaim(this.options.key, STREAM_GROUP, this.name, 0, ...ids.slice(i, i + 500), 'JUSTID');
      }
      let cursor = '0-0';
      do {
        const room = this.options.readAhead - this.delivery.held;
        if (room <= 0) return;
        const [next, entries] = (await this.writer.xautoclaim(this.options.key, STREAM_GROUP, this.name, this.options.claimIdleMs, cursor, 'COUNT', Math.min(room, 256))) as [
          string,
          Array<[string, string[]] | null>,
        ];
        const live = entries.filter((e): e is [string, string[]] => e !== null && Array.isArray(e[1]));
        if (live.length > 0) this.log('log', `Took over ${live.length} trace(s) left pending in the trace stream by a gateway that stopped.`);
        this.take(live);
        cursor = next;
      } while (cursor !== '0-0' && !this.stopped);
    } catch (err) {
      this.failed('claim pending traces in the trace stream', err);
    }
  }

  /**
   * This consumer's entries of the stream: new ones (`from` '>'), blocking up
   * to `blockMs` when there are none, or its own pending ones after `from`
   * (an entry deleted meanwhile comes with null fields).
   */
  private async read(count: number, from: string, blockMs?: number): Promise<Array<[string, string[] | null]>> {
    const { key } = this.options;
    const answer = (
      blockMs === undefined
        ? await this.reader.xreadgroup('GROUP', STREAM_GROUP, this.name, 'COUNT', count, 'STREAMS', key, from)
        : await this.reader.xreadgroup('GROUP', STREAM_GROUP, this.name, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, from)
    ) as Array<[string, Array<[string, string[] | null]>]> | null;
    return answer?.[0]?.[1] ?? [];
  }

  /** Hands entries to the delivery (those it holds or is acknowledging already, and deleted ones, skipped). */
  private take(entries: Array<[string, string[] | null]>): void {
    for (const [id, fields] of entries) {
      if (fields === null || this.mine.has(id) || this.acking.has(id)) continue;
      let record: TraceRecord;
      try {
        record = JSON.parse(fields[fields.indexOf(FIELD) + 1]) as TraceRecord;
      } catch {
        this.log('error', `Entry ${id} of the trace stream is unreadable; it is removed.`);
        this.ack(id);
        continue;
      }
      this.mine.add(id);
      // No room in memory now: the entry stays pending in the stream, and is claimed again once idle.
      if (!this.delivery.add({ record, source: 'stream', settle: () => this.ack(id) })) this.mine.delete(id);
    }
  }

  private ack(id: string): void {
    this.mine.delete(id);
    this.acks.push(id);
    this.acking.add(id);
    this.ackTimer ??= setImmediate(() => void this.flushAcks());
  }

  private flushAcks(): Promise<void> {
    this.ackTimer = undefined;
    if (this.acks.length === 0) return Promise.resolve();
    const ids = this.acks;
    this.acks = [];
    return this.writer
      .multi()
      .xack(this.options.key, STREAM_GROUP, ...ids)
      .xdel(this.options.key, ...ids)
      .exec()
      .then(
        () => undefined,
        (err: unknown) => {
          // Not acknowledged: the entries stay pending and are delivered again later (Langfuse takes a span id once).
          this.failed('acknowledge delivered traces in the trace stream', err);
        },
      )
      .finally(() => {
        for (const id of ids) this.acking.delete(id);
      });
  }

  private failed(what: string, err: unknown): void {
    const message = (err as Error)?.message ?? String(err);
    if (message === this.lastError) return;
    this.lastError = message;
    this.log('warn', `Could not ${what}: ${message}; retrying.`);
  }

  private recovered(): void {
    if (!this.lastError) return;
    this.lastError = '';
    this.log('log', 'The trace stream is reachable again.');
  }
}

/**
 * A client for the topology (as @app/redis's createRedisClient builds one,
 * which the worker cannot load): lazy, so the loop connects and reports.
 */
function connect(topology: RedisTopology, options: RedisOptions): RedisClient {
  if (topology.kind === 'cluster') {
    return new Cluster(topology.nodes, {
      lazyConnect: true,
      clusterRetryStrategy: options.retryStrategy,
      redisOptions: { ...topology.options, ...options },
      ...(topology.options.tls ? { dnsLookup: (address: string, callback: (err: Error | null, address: string) => void) => callback(null, address) } : {}),
    });
  }
  const all = { ...topology.options, ...options, lazyConnect: true };
  return topology.kind === 'single' && topology.url ? new Redis(topology.url, all) : new Redis(all);
}

/** QUIT waits for a reply: only when connected; otherwise stop reconnecting now. */
async function close(client: RedisClient): Promise<void> {
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
  else if (client.status !== 'end') client.disconnect();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
