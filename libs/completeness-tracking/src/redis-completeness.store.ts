import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { CompletenessStore } from './completeness.store';
import { RedisKeys } from './redis-keys';
import { REDIS_CLIENT } from './redis.client';
import { trackingConfig } from './tracking.config';
import { ConfigType } from '@nestjs/config';

/** Ids of a rollout in one Redis set; the TTL is renewed on every write. */
@Injectable()
export class RedisCompletenessStore extends CompletenessStore {
  readonly kind = 'redis';
  private readonly keys: RedisKeys;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(trackingConfig.KEY) private readonly config: ConfigType<typeof trackingConfig>,
  ) {
    super();
    this.keys = new RedisKeys(config.REDIS_KEY_PREFIX);
  }

  async register(rolloutId: string, insertionId: string): Promise<void> {
    const key = this.keys.ids(rolloutId);
    await this.redis.multi().sadd(key, insertionId).expire(key, this.config.ROLLOUT_TTL_SECONDS).exec().then(failOnError);
  }

  async expectedIds(rolloutId: string): Promise<string[]> {
    return this.redis.smembers(this.keys.ids(rolloutId));
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}

/** MULTI/EXEC reports per-command errors in its result instead of throwing. */
function failOnError(results: Array<[Error | null, unknown]> | null): void {
  if (!results) throw new Error('Redis transaction aborted');
  for (const [err] of results) if (err) throw err;
}
