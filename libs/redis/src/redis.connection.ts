import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { RedisKeys } from './redis-keys';
import { createRedisClient, describeTopology, RedisClient, RedisTopology, topologyOf } from './redis-topology';
import { TickBatcher } from './tick-batcher';
import { RedisSettings } from './redis.settings';

/**
 * The gateway's one Redis client (or none: no Redis configured), the key
 * layout, and a health check. One node, a Redis Cluster or a master behind
 * Sentinel (redis-topology.ts). Stores share it; it is closed after every
 * module has been destroyed (onApplicationShutdown), so stores can drain
 * their queues into it first.
 */
export class RedisConnection implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  /** undefined when no Redis is configured: stores then keep their data in memory. */
  readonly client?: RedisClient;
  readonly keys: RedisKeys;
  /** Batches the commands of one event-loop turn into one pipeline (with a client only). */
  readonly batcher?: TickBatcher;
  /** Where Redis is (plain data, for another connection such as the export worker's); undefined without Redis. */
  readonly topology?: RedisTopology;

  constructor(settings: RedisSettings) {
    this.keys = new RedisKeys(settings.REDIS_KEY_PREFIX);
    this.topology = topologyOf(settings);
    if (!this.topology) return;
    // Fail fast while Redis is down, so the tracker's retry queue takes over
    // instead of requests hanging in ioredis' offline queue. No
    // enableAutoPipelining on one node: while Redis is down it runs one
    // pipeline at a time, so each request waited for the previous one's
    // retries (test/redis-outage.e2e-spec.ts); the TickBatcher pipelines
    // instead. A cluster pipelines per node itself (a pipeline may not span
    // nodes), and the tracker's deadline bounds any wait.
    this.client = createRedisClient(
      this.topology,
      { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 5_000, retryStrategy: (times: number) => Math.min(times * 200, 2_000) },
      { enableAutoPipelining: true, enableOfflineQueue: true, clusterRetryStrategy: (times: number) => Math.min(times * 200, 2_000) },
    );
    this.batcher = new TickBatcher(this.client, {
      replicas: settings.REDIS_WAIT_REPLICAS,
      timeoutMs: settings.REDIS_WAIT_TIMEOUT_MS,
      onUnconfirmed: (writes, confirmed) => this.reportUnconfirmed(writes, confirmed, settings),
    });
    this.logger.log(`Stores use ${describeTopology(this.topology)}.`);
    let down = false;
    this.client.on('error', (err: Error) => {
      if (!down) this.logger.error(`Redis unreachable: ${err.message}`);
      down = true;
    });
    this.client.on('ready', () => {
      if (down) this.logger.log('Redis reachable again');
      down = false;
    });
  }

  /** Writes that fewer replicas than REDIS_WAIT_REPLICAS confirmed in time (they count as stored). */
  unconfirmedWrites = 0;
  private unconfirmedReportedAt = 0;

  private reportUnconfirmed(writes: number, confirmed: number, settings: RedisSettings): void {
    this.unconfirmedWrites += writes;
    const now = Date.now();
    if (now - this.unconfirmedReportedAt < 30_000) return;
    this.unconfirmedReportedAt = now;
    this.logger.warn(
      `${confirmed} of ${settings.REDIS_WAIT_REPLICAS} replica(s) confirmed writes within ${settings.REDIS_WAIT_TIMEOUT_MS} ms (REDIS_WAIT_REPLICAS); they are kept on the master alone until a replica catches up (${this.unconfirmedWrites} so far; once per 30 s).`,
    );
  }

  get configured(): boolean {
    return this.client !== undefined;
  }

  /** Connected and ready now (a command would not wait in ioredis' offline queue). */
  get ready(): boolean {
    return this.client?.status === 'ready';
  }

  /** Round trip to Redis; throws when it does not answer. */
  async ping(): Promise<void> {
    if (!this.client) throw new Error('no Redis is configured');
    await this.client.ping();
  }

  async onApplicationShutdown(): Promise<void> {
    const client = this.client;
    if (!client || client.status === 'end') return;
    // QUIT waits for a reply: only when connected; otherwise stop reconnecting now.
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
    else client.disconnect();
  }
}
