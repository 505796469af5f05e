import type Redis from 'ioredis';
import type { ChainableCommander } from 'ioredis';

interface Waiting {
  add(pipeline: ChainableCommander): void;
  resolve(reply: unknown): void;
  reject(err: unknown): void;
}

/**
 * Commands issued in the same event-loop turn go out as one pipeline (one
 * socket write) at setImmediate: under load many completions end in the same
 * poll phase, and a write per command was ~5 % of the gateway's CPU
 * (`npm run bench -- profile`). Each caller still gets its own reply or
 * error. Not ioredis' enableAutoPipelining: that keeps one pipeline in flight
 * at a time, which during an outage made calls wait on each other's retries.
 */
export class TickBatcher {
  private batch: Waiting[] | undefined;

  constructor(private readonly redis: Redis) {}

  /** Adds one command to this turn's pipeline; resolves with its reply. */
  call(add: (pipeline: ChainableCommander) => void): Promise<unknown> {
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
    const pipeline = this.redis.pipeline();
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
