export * from './rollout-metadata';
export * from './chat-route.parser';
export * from './routing-metadata.module';
