/**
 * completeness-tracking owns which completions each rollout expects: the
 * CompletenessStore port, its Redis and in-memory adapters, and the
 * RolloutTracker, which guarantees that a registration is never silently
 * lost. It knows nothing about HTTP.
 */
import { DynamicModule, Logger, Module, ModuleMetadata, Type } from '@nestjs/common';
import { RedisConnection } from '@app/redis';
import { SettingsModuleRef, settingsProvider } from '@app/settings';
import { CompletenessStore } from './completeness.store';
import { InMemoryCompletenessStore } from './in-memory-completeness.store';
import { RedisCompletenessStore } from './redis-completeness.store';
import { RolloutTracker } from './rollout-tracker.service';
import { TrackingSettings } from './tracking.settings';

export interface CompletenessTrackingModuleOptions {
  settings: SettingsModuleRef;
  /** RedisModule.forRoot(…): the built-in store uses its client when Redis is configured. */
  redis: DynamicModule;
  /** SpoolModule.forRoot(…): where a stopping gateway leaves the ids it could not store. */
  spool: DynamicModule;
  /** Your own store; it may inject RedisConnection, TrackingSettings and anything `imports` export. */
  store?: Type<CompletenessStore>;
  imports?: ModuleMetadata['imports'];
}

@Module({})
export class CompletenessTrackingModule {
  static forRoot({ settings, redis, spool, store, imports = [] }: CompletenessTrackingModuleOptions): DynamicModule {
    return {
      module: CompletenessTrackingModule,
      imports: [settings, redis, spool, ...imports],
      providers: [
        settingsProvider(TrackingSettings),
        store
          ? { provide: CompletenessStore, useClass: store }
          : { provide: CompletenessStore, inject: [RedisConnection, TrackingSettings], useFactory: builtInStore },
        RolloutTracker,
      ],
      exports: [CompletenessStore, RolloutTracker, TrackingSettings],
    };
  }
}

function builtInStore(redis: RedisConnection, settings: TrackingSettings): CompletenessStore {
  if (redis.client) return new RedisCompletenessStore(redis, settings);
  new Logger('CompletenessTracking').warn(
    'No Redis configured (REDIS_URL / REDIS_HOST): using the in-memory completeness store. It is for one process only and loses its data on restart.',
  );
  return new InMemoryCompletenessStore(settings);
}
