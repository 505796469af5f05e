import type { Readable } from 'node:stream';

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
  /** The same as an AbortSignal, made on first access (client.signal): for adapters that want one. */
  readonly signal: AbortSignal;
}

/**
 * The client's side of a call: whether it left before its answer was
 * finished, and a way to hear of it. Not an AbortSignal per call: an
 * AbortController, its EventTarget and listeners cost 9 % of the gateway's
 * CPU per completion (bench/README.md, issue 17); this rides on the
 * response's own 'close' event. `signal` makes an AbortSignal on first use.
 */
export interface ClientPresence {
  /** The client disconnected before its response was finished. */
  readonly gone: boolean;
  /** Calls `listener` once when the client goes (at once if it has); returns what stops listening. */
  onGone(listener: () => void): () => void;
  /** An AbortSignal aborted when the client goes, made on first access. */
  readonly signal: AbortSignal;
}

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
