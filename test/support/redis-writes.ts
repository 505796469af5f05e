/**
 * Write traffic for the failover specs (redis-cluster.spec.ts,
 * redis-sentinel.spec.ts) through a plain ioredis client, standalone or
 * cluster: which writes were acknowledged, which of those a replica had
 * confirmed (WAIT 1), and which ones read back afterwards.
 */
import type { Cluster, Redis } from 'ioredis';
import { sleep } from './redis-server-child';

type Client = Redis | Cluster;

/** Writes `{tag}:<name>:<i>` = i one after another until stopped; with `wait`, each SET is followed by WAIT 1 on the same node. */
export class Writer {
  readonly acked: string[] = [];
  /** Acknowledged keys whose WAIT said a replica has them. */
  readonly replicated: string[] = [];
  /** When each write was acknowledged (Date.now()). */
  readonly okAt: number[] = [];
  failures = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly redis: Client,
    readonly tag: string,
    readonly name: string,
    private readonly wait: boolean,
    private readonly waitTimeoutMs = 100,
  ) {
    this.done = this.loop();
  }

  okSince(t: number): number {
    return this.okAt.filter((at) => at >= t).length;
  }

  /** The longest time without an acknowledged write after `t` (the outage this writer saw). */
  longestGapAfter(t: number): number {
    let gap = 0;
    let previous = t;
    for (const at of this.okAt.filter((at) => at > t)) {
      gap = Math.max(gap, at - previous);
      previous = at;
    }
    return gap;
  }

  /** Acknowledged keys a replica had not confirmed. */
  unreplicated(): string[] {
    const replicated = new Set(this.replicated);
    return this.acked.filter((key) => !replicated.has(key));
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }

  private async loop(): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      const key = `{${this.tag}}:${this.name}:${i}`;
      try {
        if (this.wait) {
          // One pipeline: in a cluster a keyless WAIT goes to the node of the pipeline's key.
          const [[setError], [waitError, replicas]] = (await this.redis.pipeline().set(key, String(i)).call('WAIT', '1', String(this.waitTimeoutMs)).exec())!;
          if (setError) throw setError;
          this.acked.push(key);
          if (!waitError && Number(replicas) >= 1) this.replicated.push(key);
        } else {
          await this.redis.set(key, String(i));
          this.acked.push(key);
        }
        this.okAt.push(Date.now());
      } catch {
        this.failures++;
        await sleep(20);
      }
    }
  }
}

/** The keys (`{tag}:<name>:<i>`, value i) that do not read back, read one hash tag (so one slot) at a time. */
export async function unreadable(redis: Client, keys: string[]): Promise<string[]> {
  const byTag = new Map<string, string[]>();
  for (const key of keys) {
    const tag = key.slice(0, key.indexOf('}') + 1);
    byTag.set(tag, [...(byTag.get(tag) ?? []), key]);
  }
  const lost: string[] = [];
  for (const tagKeys of byTag.values()) {
    for (let i = 0; i < tagKeys.length; i += 500) {
      const chunk = tagKeys.slice(i, i + 500);
      const values = await redis.mget(chunk);
      chunk.forEach((key, j) => {
        if (values[j] !== key.slice(key.lastIndexOf(':') + 1)) lost.push(key);
      });
    }
  }
  return lost;
}
