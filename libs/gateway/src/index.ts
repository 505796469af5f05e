export { GatewayModule, GatewayAppOptions } from './gateway.module';
export type { GatewayExtensions, GatewayModuleAsyncOptions, GatewayModuleOptions, GatewaySettings } from './gateway.module';
export { configureGatewayApp, createGatewayLogger, installSignalHandlers, listenGateway } from './bootstrap';
export type { GatewayServer } from './bootstrap';
export { AppSettings } from './app.settings';
export { GatewayLogger } from './gateway.logger';
export { GatewayExceptionFilter } from './gateway-exception.filter';
