export * from './rollout-status.module';
