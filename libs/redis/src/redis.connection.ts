import { Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { RedisKeys } from './redis-keys';
import { TickBatcher } from './tick-batcher';
import { RedisSettings } from './redis.settings';

/**
 * The gateway's one Redis client (or none: no REDIS_URL / REDIS_HOST), the
 * key layout, and a health check. Stores share it; it is closed after every
 * module has been destroyed (onApplicationShutdown), so stores can drain
 * their queues into it first.
 */
export class RedisConnection implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  /** undefined when no Redis is configured: stores then keep their data in memory. */
  readonly client?: Redis;
  readonly keys: RedisKeys;
  /** Batches the commands of one event-loop turn into one pipeline (with a client only). */
  readonly batcher?: TickBatcher;
  private readonly settings: RedisSettings;

  constructor(settings: RedisSettings) {
    this.settings = settings;
    this.keys = new RedisKeys(settings.REDIS_KEY_PREFIX);
    if (!settings.REDIS_URL && !settings.REDIS_HOST) return;
    const options = {
      // Fail fast while Redis is down, so the tracker's retry queue takes over
      // instead of requests hanging in ioredis' offline queue.
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      connectTimeout: 5_000,
      retryStrategy: (times: number) => Math.min(times * 200, 2_000),
      // No enableAutoPipelining: while Redis is down it runs one pipeline at a
      // time, so each request waited for the previous one's retries (seconds,
      // growing; test/redis-outage.e2e-spec.ts) instead of failing over to the
      // tracker's retry queue.
    };
    this.client = settings.REDIS_URL
      ? new Redis(settings.REDIS_URL, options)
      : new Redis({ ...options, host: settings.REDIS_HOST, port: settings.REDIS_PORT, password: settings.REDIS_PASSWORD });
    this.batcher = new TickBatcher(this.client);
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

  get configured(): boolean {
    return this.client !== undefined;
  }

  /** Connected and ready now (a command would not wait in ioredis' offline queue). */
  get ready(): boolean {
    return this.client?.status === 'ready';
  }

  /**
   * How to open another connection to the same Redis (a worker thread, a
   * blocking reader). Holds the password: never log it.
   */
  connectionOptions(): { url?: string; host?: string; port: number; password?: string } {
    const { REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_PASSWORD } = this.settings;
    return REDIS_URL ? { url: REDIS_URL, port: REDIS_PORT } : { host: REDIS_HOST, port: REDIS_PORT, password: REDIS_PASSWORD };
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
