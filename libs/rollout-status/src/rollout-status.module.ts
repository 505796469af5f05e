/**
 * rollout-status owns the rollout logs and status the eval-protocol SDK posts
 * and polls (`/logs`, `/status`, each also under `/v1`) and our progress view
 * (`/rollouts/:rollout_id`): validating and normalising entries, and the
 * RolloutLogStore port with its Redis and in-memory adapters. Logs and
 * statuses are scoped per rollout, not per project (the SDK posts them without
 * a project); only `?check=langfuse` touches a project, and is checked
 * against the caller's scope. It must not call the LLM upstream, read
 * Langfuse itself (trace-retrieval does), or record completions.
 */
import { Logger, Module } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import Redis from 'ioredis';
import { REDIS_CLIENT, trackingConfig } from '@app/completeness-tracking';
import { TraceRetrievalModule } from '@app/trace-retrieval';
import { InMemoryRolloutLogStore } from './in-memory-rollout-log.store';
import { RedisRolloutLogStore } from './redis-rollout-log.store';
import { RolloutLogStore, RolloutLogStoreOptions } from './rollout-log.store';
import { RolloutLogsService } from './rollout-logs.service';
import { RolloutProgressService } from './rollout-progress.service';
import { RolloutStatusController } from './rollout-status.controller';
import { rolloutStatusConfig } from './rollout-status.config';

@Module({
  imports: [ConfigModule.forFeature(rolloutStatusConfig), ConfigModule.forFeature(trackingConfig), TraceRetrievalModule],
  controllers: [RolloutStatusController],
  providers: [
    {
      provide: RolloutLogStore,
      inject: [REDIS_CLIENT, trackingConfig.KEY, rolloutStatusConfig.KEY],
      useFactory: (redis: Redis | null, tracking: ConfigType<typeof trackingConfig>, config: ConfigType<typeof rolloutStatusConfig>) => {
        const options: RolloutLogStoreOptions = {
          keyPrefix: tracking.REDIS_KEY_PREFIX,
          ttlSeconds: tracking.ROLLOUT_TTL_SECONDS,
          maxEntries: config.ROLLOUT_LOGS_MAX_ENTRIES,
        };
        if (redis) return new RedisRolloutLogStore(redis, options);
        new Logger('RolloutStatus').warn('No Redis configured: rollout logs and statuses are kept in memory, for one process only.');
        return new InMemoryRolloutLogStore(options);
      },
    },
    RolloutLogsService,
    RolloutProgressService,
  ],
  exports: [RolloutLogStore, RolloutLogsService, RolloutProgressService],
})
export class RolloutStatusModule {}
