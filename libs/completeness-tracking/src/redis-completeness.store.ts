import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { CompletenessStore } from './completeness.store';
import { RedisKeys } from './redis-keys';
import { REDIS_CLIENT } from './redis.client';
import { trackingConfig } from './tracking.config';
import { ConfigType } from '@nestjs/config';

/**
 * SADD + EXPIRE as one script: one command and one round trip per
 * registration (MULTI/SADD/EXPIRE/EXEC was four commands, with their
 * objects and promises, on the hot path of every tracked completion), and
 * still atomic.
 */
const REGISTER_SCRIPT = `redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1`;

interface RegisterCommand {
  mgwRegister(key: string, id: string, ttlSeconds: number): Promise<number>;
}

/** Ids of a rollout in one Redis set; the TTL is renewed on every write. */
@Injectable()
export class RedisCompletenessStore extends CompletenessStore {
  readonly kind = 'redis';
  private readonly keys: RedisKeys;
  private readonly client: RegisterCommand;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(trackingConfig.KEY) private readonly config: ConfigType<typeof trackingConfig>,
  ) {
    super();
    this.keys = new RedisKeys(config.REDIS_KEY_PREFIX);
    // ioredis sends EVALSHA and falls back to EVAL after a NOSCRIPT (e.g. a restarted Redis).
    this.client = redis as unknown as RegisterCommand;
    if (typeof this.client.mgwRegister !== 'function') redis.defineCommand('mgwRegister', { numberOfKeys: 1, lua: REGISTER_SCRIPT });
  }

  async register(rolloutId: string, insertionId: string): Promise<void> {
    await this.client.mgwRegister(this.keys.ids(rolloutId), insertionId, this.config.ROLLOUT_TTL_SECONDS);
  }

  async expectedIds(rolloutId: string): Promise<string[]> {
    return this.redis.smembers(this.keys.ids(rolloutId));
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
