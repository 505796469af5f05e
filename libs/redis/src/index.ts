export { RedisModule } from './redis.module';
export type { RedisModuleDeps } from './redis.module';
export { RedisConnection } from './redis.connection';
export { RedisKeys } from './redis-keys';
export { RedisSettings } from './redis.settings';
