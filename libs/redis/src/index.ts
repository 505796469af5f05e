export { RedisModule } from './redis.module';
export type { RedisModuleDeps } from './redis.module';
export { RedisConnection } from './redis.connection';
export { escapeKeyPart, RedisKeys } from './redis-keys';
export { TickBatcher } from './tick-batcher';
export { RedisSettings } from './redis.settings';
export { migrateRolloutKeys } from './key-migration';
export type { KeyLayout, KeyMigrationOptions, KeyMigrationReport } from './key-migration';
