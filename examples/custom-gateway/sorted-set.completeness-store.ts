import { Injectable } from '@nestjs/common';
import { CompletenessStore, TrackingSettings } from '@app/completeness-tracking';
import { RedisClient, RedisConnection } from '@app/redis';
import type { RolloutRef } from '@app/routing-metadata';

/**
 * A completeness store of its own: each rollout's ids in a Redis sorted set
 * scored by the time they were recorded (so another system can ask "what
 * completed since T" with ZRANGEBYSCORE). It shares the gateway's Redis
 * client and key layout; the tracker's retry queue, /ready and /traces use
 * it like the built-in one.
 */
@Injectable()
export class SortedSetCompletenessStore extends CompletenessStore {
  readonly kind = 'redis-sorted-set';
  private readonly redis: RedisClient;

  constructor(
    private readonly connection: RedisConnection,
    private readonly settings: TrackingSettings,
  ) {
    super();
    if (!connection.client) throw new Error('SortedSetCompletenessStore needs Redis: set REDIS_URL.');
    this.redis = connection.client;
  }

  key(rollout: RolloutRef): string {
    return this.connection.keys.rollout(rollout, 'completions');
  }

  async register(rollout: RolloutRef, insertionId: string): Promise<void> {
    const key = this.key(rollout);
    const [[zaddError], [expireError]] = (await this.redis.multi().zadd(key, 'NX', Date.now(), insertionId).expire(key, this.settings.ROLLOUT_TTL_SECONDS).exec()) ?? [[null], [null]];
    if (zaddError || expireError) throw zaddError ?? expireError;
  }

  async expectedIds(rollout: RolloutRef): Promise<string[]> {
    return this.redis.zrange(this.key(rollout), '0', '-1');
  }

  async ping(): Promise<void> {
    await this.connection.ping();
  }
}
