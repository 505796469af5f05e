export * from './gateway.error';
export * from './validate-config';
export * from './request-context';
