export * from './gateway.module';
export * from './bootstrap';
export * from './app.config';
export * from './gateway.logger';
export * from './gateway-exception.filter';
export * from './health.controller';
export * from './metrics';
