/**
 * Domain errors carry a stable code; the global exception filter maps the code
 * to an HTTP status. Libraries throw these instead of Nest HTTP exceptions so
 * they stay independent of the transport.
 */
export enum GatewayErrorCode {
  BadRequest = 'bad_request',
  InvalidJson = 'invalid_json',
  BodyTooLarge = 'body_too_large',
  InvalidEncodedBaseUrl = 'invalid_encoded_base_url',
  ForbiddenUpstream = 'forbidden_upstream',
  MissingRolloutTag = 'missing_rollout_tag',
  InvalidQuery = 'invalid_query',
  Unauthenticated = 'unauthenticated',
  Forbidden = 'forbidden',
  UnknownProject = 'unknown_project',
  UnknownRollout = 'unknown_rollout',
  IncompleteTraces = 'incomplete_traces',
  TracingNotConfigured = 'tracing_not_configured',
  UpstreamUnreachable = 'upstream_unreachable',
  UpstreamTimeout = 'upstream_timeout',
  LangfuseUnavailable = 'langfuse_unavailable',
  TrackingUnavailable = 'tracking_unavailable',
  /** The client went away before the answer; nobody reads the response. */
  ClientClosedRequest = 'client_closed_request',
  /** A path the gateway serves itself, with a method it does not serve there (never proxied). */
  MethodNotAllowed = 'method_not_allowed',
  /** A path the gateway reserves but does not serve now (the API docs with DOCS_ENABLED=false, a missing docs asset). */
  NotFound = 'not_found',
}

const STATUS: Record<GatewayErrorCode, number> = {
  [GatewayErrorCode.BadRequest]: 400,
  [GatewayErrorCode.InvalidJson]: 400,
  [GatewayErrorCode.BodyTooLarge]: 413,
  [GatewayErrorCode.InvalidEncodedBaseUrl]: 400,
  [GatewayErrorCode.ForbiddenUpstream]: 403,
  [GatewayErrorCode.MissingRolloutTag]: 400,
  [GatewayErrorCode.InvalidQuery]: 400,
  [GatewayErrorCode.Unauthenticated]: 401,
  [GatewayErrorCode.Forbidden]: 403,
  [GatewayErrorCode.UnknownProject]: 404,
  [GatewayErrorCode.UnknownRollout]: 404,
  [GatewayErrorCode.IncompleteTraces]: 404,
  [GatewayErrorCode.TracingNotConfigured]: 503,
  [GatewayErrorCode.UpstreamUnreachable]: 502,
  [GatewayErrorCode.UpstreamTimeout]: 504,
  [GatewayErrorCode.LangfuseUnavailable]: 502,
  [GatewayErrorCode.TrackingUnavailable]: 503,
  [GatewayErrorCode.ClientClosedRequest]: 499,
  [GatewayErrorCode.MethodNotAllowed]: 405,
  [GatewayErrorCode.NotFound]: 404,
};

/** The HTTP status a code answers with (the table above). */
export function statusOfCode(code: GatewayErrorCode): number {
  return STATUS[code];
}

export interface GatewayErrorOptions {
  /**
   * For the gateway's log line only, never the client: what the operator
   * needs and the client must not learn (an internal host, say).
   */
  logDetail?: string;
}

export class GatewayError extends Error {
  readonly logDetail?: string;

  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options: GatewayErrorOptions = {},
  ) {
    super(message);
    this.name = 'GatewayError';
    this.logDetail = options.logDetail;
  }

  get status(): number {
    return statusOfCode(this.code);
  }
}
