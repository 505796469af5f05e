export { GatewayError, GatewayErrorCode } from './gateway.error';
export type { GatewayErrorOptions } from './gateway.error';
export { currentRequestContext, requestContext } from './request-context';
export type { RequestContext } from './request-context';
export { withDeadline } from './deadline';
