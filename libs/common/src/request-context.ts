import { AsyncLocalStorage } from 'node:async_hooks';

/** Per-request facts that every log line of the request carries. */
export interface RequestContext {
  requestId: string;
  rolloutId?: string;
  /** The trail routes' trail. */
  trailId?: string;
  projectId?: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentRequestContext(): RequestContext | undefined {
  return requestContext.getStore();
}
