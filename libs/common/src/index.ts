export { GatewayError, GatewayErrorCode } from './gateway.error';
export type { GatewayErrorOptions } from './gateway.error';
export { ApiGatewayErrors } from './gateway-error.body';
export { JSON_VALUE } from './json-value.docs';
export { attachRequestContext, currentRequestContext, requestContextOf, runWithRequestContext, withRequestContext } from './request-context';
export type { RequestContext } from './request-context';
export { withDeadline } from './deadline';
export { clientPresence } from './client-presence';
export type { ClientPresence } from './client-presence';
