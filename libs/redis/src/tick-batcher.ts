import { Cluster } from 'ioredis';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis-topology';

/** Adds one command to a pipeline, or (on a cluster) sends it: then it returns the command's promise. */
export type AddCommand = (target: ChainableCommander) => unknown;

interface Waiting {
  add: AddCommand;
  resolve(reply: unknown): void;
  reject(err: unknown): void;
}

/**
 * Commands issued in the same event-loop turn go out as one pipeline (one
 * socket write) at setImmediate: under load many completions end in the same
 * poll phase, and a write per command was ~5 % of the gateway's CPU
 * (`npm run bench -- profile`). Each caller still gets its own reply or
 * error. Not ioredis' enableAutoPipelining on one node: that keeps one
 * pipeline in flight at a time, which during an outage made calls wait on
 * each other's retries. On a Redis Cluster a pipeline may not span nodes:
 * commands are sent one by one there, and the cluster client (with
 * enableAutoPipelining) pipelines them per node.
 */
export interface ReplicaWait {
  /** Replicas that must confirm a write (WAIT) before it counts as stored; 0: the master's answer is enough. */
  replicas: number;
  timeoutMs: number;
}

export class TickBatcher {
  private batch: Waiting[] | undefined;
  private readonly direct: boolean;

  /**
   * With `wait`, a write counts as stored only once `wait.replicas` replicas
   * confirmed it (WAIT after the pipeline, on the node that took the write):
   * what a client got a 200 for then survives the master's failover. Fewer
   * confirmations reject the calls, so the caller's fallback (retry queue,
   * memory) keeps the data until it is.
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly wait: ReplicaWait = { replicas: 0, timeoutMs: 0 },
  ) {
    this.direct = redis instanceof Cluster;
  }

  /** Adds one command to this turn's pipeline; resolves with its reply. */
  call(add: AddCommand): Promise<unknown> {
    if (this.direct) return this.wait.replicas > 0 ? this.sendWaiting(add) : Promise.resolve(add(this.redis as unknown as ChainableCommander));
    return new Promise((resolve, reject) => {
      if (this.batch === undefined) {
        this.batch = [];
        setImmediate(() => this.flush());
      }
      this.batch.push({ add, resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.batch ?? [];
    this.batch = undefined;
    const pipeline = (this.redis as Exclude<RedisClient, Cluster>).pipeline();
    for (const w of batch) w.add(pipeline);
    if (this.wait.replicas > 0) pipeline.wait(this.wait.replicas, this.wait.timeoutMs);
    pipeline.exec().then(
      (results) => {
        const unconfirmed = this.wait.replicas > 0 ? this.unconfirmed(results?.[batch.length]) : undefined;
        batch.forEach((w, i) => {
          const reply = results?.[i];
          // No reply at all counts as a failure: a write is only reported done when Redis said so.
          if (!reply || reply[0]) w.reject(reply?.[0] ?? new Error('Redis sent no reply for this command'));
          else if (unconfirmed) w.reject(unconfirmed);
          else w.resolve(reply[1]);
        });
      },
      (err: unknown) => batch.forEach((w) => w.reject(err)),
    );
  }

  /** On a cluster: the command and its WAIT in a pipeline of their own, sent to the node of the command's key. */
  private async sendWaiting(add: AddCommand): Promise<unknown> {
    const pipeline = (this.redis as Cluster).pipeline();
    add(pipeline);
    pipeline.wait(this.wait.replicas, this.wait.timeoutMs);
    const results = await pipeline.exec();
    const reply = results?.[0];
    if (!reply || reply[0]) throw reply?.[0] ?? new Error('Redis sent no reply for this command');
    const unconfirmed = this.unconfirmed(results?.[1]);
    if (unconfirmed) throw unconfirmed;
    return reply[1];
  }

  private unconfirmed(waitReply: [Error | null, unknown] | undefined): Error | undefined {
    if (!waitReply || waitReply[0]) return waitReply?.[0] ?? new Error('Redis sent no reply to WAIT');
    const confirmed = Number(waitReply[1]);
    return confirmed >= this.wait.replicas ? undefined : new Error(`only ${confirmed} of ${this.wait.replicas} replica(s) confirmed the write within ${this.wait.timeoutMs} ms (REDIS_WAIT_REPLICAS)`);
  }
}
