export * from './completeness.store';
export * from './redis-completeness.store';
export * from './in-memory-completeness.store';
export * from './rollout-tracker.service';
export * from './completeness-tracking.module';
export * from './tracking.config';
export * from './redis-keys';
export { REDIS_CLIENT } from './redis.client';
