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
export class TickBatcher {
  private batch: Waiting[] | undefined;
  private readonly direct: boolean;

  constructor(private readonly redis: RedisClient) {
    this.direct = redis instanceof Cluster;
  }

  /** Adds one command to this turn's pipeline; resolves with its reply. */
  call(add: AddCommand): Promise<unknown> {
    if (this.direct) return Promise.resolve(add(this.redis as unknown as ChainableCommander));
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
    pipeline.exec().then(
      (results) =>
        batch.forEach((w, i) => {
          const reply = results?.[i];
          // No reply at all counts as a failure: a write is only reported done when Redis said so.
          if (!reply || reply[0]) w.reject(reply?.[0] ?? new Error('Redis sent no reply for this command'));
          else w.resolve(reply[1]);
        }),
      (err: unknown) => batch.forEach((w) => w.reject(err)),
    );
  }
}
