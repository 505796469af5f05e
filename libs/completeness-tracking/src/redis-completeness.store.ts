import type { ChainableCommander } from 'ioredis';
import { RedisConnection, TickBatcher } from '@app/redis';
import type { RolloutRef } from '@app/routing-metadata';
import { CompletenessStore } from './completeness.store';
import { TrackingSettings } from './tracking.settings';

/**
 * SADD + EXPIRE as one script: one command and one round trip per
 * registration (MULTI/SADD/EXPIRE/EXEC was four commands, with their
 * objects and promises, on the hot path of every tracked completion), and
 * still atomic.
 */
const REGISTER_SCRIPT = `redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1`;

type WithRegister = ChainableCommander & { mgwRegister(key: string, id: string, ttlSeconds: number): ChainableCommander };

/**
 * Ids of a rollout in one Redis set (`prefix:{project:rollout}:ids`); the TTL
 * is renewed on every write. Registrations of one event-loop turn share a
 * pipeline (TickBatcher), each caller getting its own reply.
 */
export class RedisCompletenessStore extends CompletenessStore {
  readonly kind = 'redis';
  private readonly batcher: TickBatcher;

  constructor(
    private readonly redis: RedisConnection,
    private readonly settings: TrackingSettings,
  ) {
    super();
    const client = redis.client;
    if (!client || !redis.batcher) throw new Error('RedisCompletenessStore needs a Redis client');
    this.batcher = redis.batcher;
    // ioredis sends EVALSHA and falls back to EVAL after a NOSCRIPT (e.g. a restarted Redis).
    if (typeof (client as unknown as Partial<WithRegister>).mgwRegister !== 'function') client.defineCommand('mgwRegister', { numberOfKeys: 1, lua: REGISTER_SCRIPT });
  }

  get reachable(): boolean {
    return this.redis.ready;
  }

  async register(rollout: RolloutRef, insertionId: string): Promise<void> {
    const key = this.redis.keys.rollout(rollout, 'ids');
    const ttl = this.settings.ROLLOUT_TTL_SECONDS;
    await this.batcher.call(key, (p) => (p as WithRegister).mgwRegister(key, insertionId, ttl));
  }

  async expectedIds(rollout: RolloutRef): Promise<string[]> {
    return this.redis.client!.smembers(this.redis.keys.rollout(rollout, 'ids'));
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
