import type { Readable } from 'node:stream';
import type { ClientPresence, RequestContext } from '@app/common';

export interface UpstreamRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Buffer | Readable;
  /**
   * Apply the SSRF guard, UpstreamAddressPolicy (client-chosen upstreams).
   * The name is from when the guard refused every private address.
   */
  guardPrivate: boolean;
  /**
   * How messages to the client name this upstream ("the LITELLM_URL
   * upstream"): an operator-configured host may be internal, so only a
   * client-chosen one is named by its host. The host goes to the log.
   * Default: "the upstream".
   */
  name?: string;
  /** Whether the client has gone away (then stop), and a hook for when it does. */
  client: ClientPresence;
  /** The request's log context: an adapter's log lines about this call are written in withRequestContext(context, …). */
  context?: RequestContext;
  /** The same as an AbortSignal, made on first access (client.signal): for adapters that want one. */
  readonly signal: AbortSignal;
}

export type { ClientPresence };

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as it arrives, chunk by chunk. */
  body: Readable;
}

/**
 * The port the forwarder sends through (default: HttpUpstreamClient; pass
 * your own to GatewayModule.forRoot({ upstreamClient })). Adapters throw GatewayError with
 * UpstreamUnreachable (502), UpstreamTimeout (504) or ForbiddenUpstream (403).
 */
export abstract class UpstreamClient {
  abstract send(request: UpstreamRequest): Promise<UpstreamResponse>;
}
