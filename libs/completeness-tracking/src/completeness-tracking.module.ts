import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import Redis from 'ioredis';
import { CompletenessStore } from './completeness.store';
import { InMemoryCompletenessStore } from './in-memory-completeness.store';
import { RedisCompletenessStore } from './redis-completeness.store';
import { createRedisClient, REDIS_CLIENT } from './redis.client';
import { RolloutTracker } from './rollout-tracker.service';
import { trackingConfig } from './tracking.config';

@Global()
@Module({
  imports: [ConfigModule.forFeature(trackingConfig)],
  providers: [
    {
      provide: REDIS_CLIENT,
      inject: [trackingConfig.KEY],
      useFactory: (config: ConfigType<typeof trackingConfig>) => createRedisClient(config),
    },
    {
      provide: CompletenessStore,
      inject: [REDIS_CLIENT, trackingConfig.KEY],
      useFactory: (redis: Redis | null, config: ConfigType<typeof trackingConfig>) => {
        if (redis) return new RedisCompletenessStore(redis, config);
        new Logger('CompletenessTracking').warn(
          'No Redis configured (REDIS_URL / REDIS_HOST): using the in-memory completeness store. It is for one process only and loses its data on restart.',
        );
        return new InMemoryCompletenessStore(config);
      },
    },
    RolloutTracker,
  ],
  exports: [REDIS_CLIENT, CompletenessStore, RolloutTracker],
})
export class CompletenessTrackingModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis | null) {}

  async onApplicationShutdown(): Promise<void> {
    // After RolloutTracker.onModuleDestroy has drained what it could.
    if (this.redis && this.redis.status !== 'end') await this.redis.quit().catch(() => this.redis?.disconnect());
  }
}
