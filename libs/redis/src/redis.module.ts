/**
 * redis owns the connection every Redis-backed store shares: the client
 * (single node today), the per-rollout key layout and the health check. It
 * must not know what the stores keep.
 */
import { DynamicModule, Module } from '@nestjs/common';
import { SettingsModuleRef, settingsProvider } from '@app/settings';
import { RedisConnection } from './redis.connection';
import { RedisSettings } from './redis.settings';

export interface RedisModuleDeps {
  settings: SettingsModuleRef;
}

@Module({})
export class RedisModule {
  static forRoot({ settings }: RedisModuleDeps): DynamicModule {
    return {
      module: RedisModule,
      imports: [settings],
      providers: [settingsProvider(RedisSettings), { provide: RedisConnection, inject: [RedisSettings], useFactory: (s: RedisSettings) => new RedisConnection(s) }],
      exports: [RedisConnection, RedisSettings],
    };
  }
}
