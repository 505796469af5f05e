import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis-topology';

/** Adds one command to a pipeline, or (on a cluster) sends it: then it returns the command's promise. */
export type AddCommand = (target: ChainableCommander) => unknown;

interface Waiting {
  key: string;
  add: AddCommand;
  resolve(reply: unknown): void;
  reject(err: unknown): void;
  /** Times the command came back redirected (cluster, REDIS_WAIT_REPLICAS). */
  redirects: number;
}

/** Replies of a cluster node that no longer (or not yet) serves the key's slot. */
const REDIRECTED = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) |same slots allocation group/;
const REDIRECT_ATTEMPTS = 4;

/**
 * How writes reach Redis.
 *
 * Without REDIS_WAIT_REPLICAS, on one node: commands issued in the same
 * event-loop turn go out as one pipeline (one socket write) at setImmediate:
 * under load many completions end in the same poll phase, and a write per
 * command was ~5 % of the gateway's CPU (`npm run bench -- profile`). Each
 * caller still gets its own reply or error. Not ioredis' enableAutoPipelining
 * on one node: that keeps one pipeline in flight at a time, which during an
 * outage made calls wait on each other's retries. On a Redis Cluster the
 * command is sent as is, and the cluster client (enableAutoPipelining)
 * pipelines per node and follows redirections.
 *
 * With REDIS_WAIT_REPLICAS (group commit): WAIT blocks the connection it is
 * sent on until the replicas have every earlier write of that connection, or
 * until its timeout. Commands are grouped by the node that serves their key
 * (one group on a single node or behind Sentinel) and each group has at most
 * one pipeline in flight, ending in one WAIT; what arrives meanwhile goes in
 * the next. A WAIT per command would queue on the node's one connection: a
 * master without a live replica (just after a failover) then answered ten
 * writes a second. On a cluster the group is the node the client's slot
 * table names; a command that comes back redirected (failover, resharding)
 * refreshes the table and goes again, in the group of its new node, up to
 * REDIRECT_ATTEMPTS times (ioredis follows redirections in a pipeline only
 * when every command of it was redirected, never with a WAIT in it).
 *
 * When fewer replicas than asked confirm within the timeout, the writes
 * still count as stored (`onUnconfirmed` hears of them): a master whose
 * replicas are gone cannot be failed over (its append-only file keeps the
 * write), and refusing would stop every write of a topology that just lost a
 * node. Only a replica lagging by more than the timeout and then promoted
 * can miss such a write.
 */
export interface ReplicaWait {
  /** Replicas asked to confirm each write (WAIT) before it counts as stored; 0: the master's answer is enough. */
  replicas: number;
  timeoutMs: number;
  /** Told of writes fewer replicas confirmed in time (they still count as stored). */
  onUnconfirmed?: (writes: number, confirmed: number) => void;
}

interface Group {
  queued: Waiting[];
  busy: boolean;
}

export class TickBatcher {
  private batch: Waiting[] | undefined;
  private readonly cluster: Cluster | undefined;
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly redis: RedisClient,
    private readonly wait: ReplicaWait = { replicas: 0, timeoutMs: 0 },
  ) {
    this.cluster = redis instanceof Cluster ? redis : undefined;
  }

  /** Sends one command on `key` (the key decides its node on a cluster); resolves with its reply. */
  call(key: string, add: AddCommand): Promise<unknown> {
    if (this.wait.replicas === 0 && this.cluster) return Promise.resolve(add(this.cluster as unknown as ChainableCommander));
    return new Promise((resolve, reject) => {
      const waiting: Waiting = { key, add, resolve, reject, redirects: 0 };
      if (this.wait.replicas > 0) return this.enqueue(waiting);
      if (this.batch === undefined) {
        this.batch = [];
        setImmediate(() => this.flush());
      }
      this.batch.push(waiting);
    });
  }

  private flush(): void {
    const batch = this.batch ?? [];
    this.batch = undefined;
    const pipeline = (this.redis as Exclude<RedisClient, Cluster>).pipeline();
    for (const w of batch) w.add(pipeline);
    pipeline.exec().then(
      (results) => batch.forEach((w, i) => settle(w, results?.[i])),
      (err: unknown) => batch.forEach((w) => w.reject(err)),
    );
  }

  /** Group commit: into the queue of the key's node; sent at the end of this turn unless a pipeline of that node is in flight. */
  private enqueue(w: Waiting): void {
    const node = this.nodeOf(w.key);
    let group = this.groups.get(node);
    if (!group) this.groups.set(node, (group = { queued: [], busy: false }));
    group.queued.push(w);
    if (group.queued.length === 1 && !group.busy) setImmediate(() => void this.send(node, group));
  }

  /** The master the client's slot table names for the key (its slot when none yet): commands of one group may share a pipeline. */
  private nodeOf(key: string): string {
    if (!this.cluster) return '';
    const slot = calculateSlot(key);
    return this.cluster.slots[slot]?.[0] ?? `slot ${slot}`;
  }

  private async send(node: string, group: Group): Promise<void> {
    if (group.busy || group.queued.length === 0) return;
    group.busy = true;
    const batch = group.queued;
    group.queued = [];
    const redirected: Waiting[] = [];
    try {
      const pipeline = this.redis.pipeline();
      for (const w of batch) w.add(pipeline);
      pipeline.wait(this.wait.replicas, this.wait.timeoutMs);
      let results: Array<[Error | null, unknown]> | null = null;
      let failure: unknown;
      try {
        results = await pipeline.exec();
      } catch (err) {
        failure = err;
      }
      const waitReply = results?.[batch.length];
      const confirmed = !waitReply || waitReply[0] ? 0 : Number(waitReply[1]);
      let stored = 0;
      batch.forEach((w, i) => {
        const reply: [Error | null, unknown] | undefined = failure !== undefined ? [failure as Error, undefined] : results?.[i];
        const err = reply?.[0];
        if (this.cluster && err instanceof Error && REDIRECTED.test(err.message) && ++w.redirects < REDIRECT_ATTEMPTS) return void redirected.push(w);
        if (reply && !err) stored++;
        settle(w, reply);
      });
      if (stored > 0 && confirmed < this.wait.replicas) this.wait.onUnconfirmed?.(stored, confirmed);
      if (redirected.length > 0) await new Promise<void>((resolve) => this.cluster!.refreshSlotsCache(() => resolve()));
    } finally {
      group.busy = false;
      if (group.queued.length === 0) this.groups.delete(node);
      for (const w of redirected) this.enqueue(w);
      if (group.queued.length > 0) {
        this.groups.set(node, group);
        setImmediate(() => void this.send(node, group));
      }
    }
  }
}

function settle(w: Waiting, reply: [Error | null, unknown] | undefined): void {
  // No reply at all counts as a failure: a write is only reported done when Redis said so.
  if (!reply || reply[0]) w.reject(reply?.[0] ?? new Error('Redis sent no reply for this command'));
  else w.resolve(reply[1]);
}
