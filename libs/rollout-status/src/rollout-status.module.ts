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
import { DynamicModule, Logger, Module, ModuleMetadata, Type } from '@nestjs/common';
import { TrackingSettings } from '@app/completeness-tracking';
import { RedisConnection } from '@app/redis';
import { SettingsModuleRef, settingsProvider } from '@app/settings';
import { InMemoryRolloutLogStore } from './in-memory-rollout-log.store';
import { RedisRolloutLogStore } from './redis-rollout-log.store';
import { RolloutLogStore, RolloutLogStoreOptions } from './rollout-log.store';
import { RolloutLogsService } from './rollout-logs.service';
import { RolloutProgressService } from './rollout-progress.service';
import { RolloutStatusController } from './rollout-status.controller';
import { RolloutStatusSettings } from './rollout-status.settings';

export interface RolloutStatusModuleOptions {
  settings: SettingsModuleRef;
  /** RedisModule.forRoot(…): the built-in store uses its client when Redis is configured. */
  redis: DynamicModule;
  /** CredentialVaultModule.forRoot(…): the projects. */
  vault: DynamicModule;
  /** AuthModule.forRoot(…): the project a request works in (ProjectResolver). */
  auth: DynamicModule;
  /** CompletenessTrackingModule.forRoot(…): recorded completions and the rollout TTL. */
  tracking: DynamicModule;
  /** TraceRetrievalModule.forRoot(…): what Langfuse shows, for `?check=langfuse`. */
  retrieval: DynamicModule;
  /** Your own store; it may inject RedisConnection, RolloutStatusSettings, TrackingSettings and anything `imports` export. */
  store?: Type<RolloutLogStore>;
  imports?: ModuleMetadata['imports'];
}

@Module({})
export class RolloutStatusModule {
  static forRoot({ settings, redis, vault, auth, tracking, retrieval, store, imports = [] }: RolloutStatusModuleOptions): DynamicModule {
    return {
      module: RolloutStatusModule,
      imports: [settings, redis, vault, auth, tracking, retrieval, ...imports],
      controllers: [RolloutStatusController],
      providers: [
        settingsProvider(RolloutStatusSettings),
        store
          ? { provide: RolloutLogStore, useClass: store }
          : { provide: RolloutLogStore, inject: [RedisConnection, TrackingSettings, RolloutStatusSettings], useFactory: builtInStore },
        RolloutLogsService,
        RolloutProgressService,
      ],
      exports: [RolloutLogStore, RolloutLogsService, RolloutProgressService],
    };
  }
}

function builtInStore(redis: RedisConnection, tracking: TrackingSettings, settings: RolloutStatusSettings): RolloutLogStore {
  const options: RolloutLogStoreOptions = { ttlSeconds: tracking.ROLLOUT_TTL_SECONDS, maxEntries: settings.ROLLOUT_LOGS_MAX_ENTRIES };
  if (redis.client) return new RedisRolloutLogStore(redis.client, redis.keys, options);
  new Logger('RolloutStatus').warn('No Redis configured: rollout logs and statuses are kept in memory, for one process only.');
  return new InMemoryRolloutLogStore(options);
}
