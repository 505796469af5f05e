/**
 * routing-metadata owns the route shapes of the HTTP contract: turning path
 * params into a ChatRoute, decoding `encoded_base_url` and building the tag
 * list. It must not do I/O.
 */
import { GatewayError, GatewayErrorCode } from '@app/common';
import { ChatRoute, INSERTION_TAG_PREFIX, RolloutMetadata, ROLLOUT_TAG_PREFIX, TRAIL_TAG_PREFIX } from './rollout-metadata';

/** Path parameter names used by every chat route (Express style). */
export interface ChatRouteParams {
  project_id?: string;
  rollout_id?: string;
  invocation_id?: string;
  experiment_id?: string;
  run_id?: string;
  row_id?: string;
  encoded_base_url?: string;
  trail_id?: string;
}

const METADATA_SEGMENTS = 'rollout_id/:rollout_id/invocation_id/:invocation_id/experiment_id/:experiment_id/run_id/:run_id/row_id/:row_id';

/** Every chat-completions path of the contract, with and without `/v1`. */
export const CHAT_COMPLETION_PATHS: string[] = (() => {
  const bases = [
    METADATA_SEGMENTS,
    `project_id/:project_id/${METADATA_SEGMENTS}`,
    `${METADATA_SEGMENTS}/encoded_base_url/:encoded_base_url`,
    `project_id/:project_id/${METADATA_SEGMENTS}/encoded_base_url/:encoded_base_url`,
    'project_id/:project_id',
    '',
    'trails/:trail_id',
    'project_id/:project_id/trails/:trail_id',
  ];
  const paths: string[] = [];
  for (const prefix of ['', 'v1/']) {
    for (const base of bases) paths.push(`/${prefix}${base ? `${base}/` : ''}chat/completions`);
  }
  return paths;
})();

export const MAX_ID_LENGTH = 256;

export function parseChatRoute(params: ChatRouteParams): ChatRoute {
  const route: ChatRoute = {};
  if (params.project_id !== undefined) route.projectId = checkId('project_id', params.project_id);
  if (params.rollout_id !== undefined) {
    route.metadata = {
      rolloutId: checkId('rollout_id', params.rollout_id),
      invocationId: checkId('invocation_id', params.invocation_id),
      experimentId: checkId('experiment_id', params.experiment_id),
      runId: checkId('run_id', params.run_id),
      rowId: checkId('row_id', params.row_id),
    };
  }
  if (params.trail_id !== undefined) route.trailId = checkId('trail_id', params.trail_id);
  if (params.encoded_base_url !== undefined) route.baseUrl = decodeBaseUrl(params.encoded_base_url);
  return route;
}

function checkId(name: string, value: string | undefined): string {
  if (value === undefined || value.length === 0) {
    throw new GatewayError(GatewayErrorCode.BadRequest, `Path segment ${name} is empty.`);
  }
  if (value.length > MAX_ID_LENGTH) {
    throw new GatewayError(GatewayErrorCode.BadRequest, `Path segment ${name} is longer than ${MAX_ID_LENGTH} characters.`);
  }
  return value;
}

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/**
 * `encoded_base_url` is URL-safe base64 (padding optional; standard `+`/`/`
 * accepted too, as some clients send it) of an http(s) base URL.
 */
export function decodeBaseUrl(encoded: string): URL {
  const normalized = encoded.replace(/\+/g, '-').replace(/\//g, '_');
  if (!BASE64URL.test(normalized) || normalized.replace(/=+$/, '').length % 4 === 1) {
    throw new GatewayError(
      GatewayErrorCode.InvalidEncodedBaseUrl,
      'encoded_base_url is not URL-safe base64. Encode the upstream base URL, e.g. base64.urlsafe_b64encode(b"https://host/v1").',
    );
  }
  const text = Buffer.from(normalized.replace(/=+$/, ''), 'base64url').toString('utf8');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new GatewayError(GatewayErrorCode.InvalidEncodedBaseUrl, 'encoded_base_url does not decode to a URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new GatewayError(
      GatewayErrorCode.InvalidEncodedBaseUrl,
      `encoded_base_url must decode to an http(s) URL, not ${url.protocol}.`,
    );
  }
  if (url.username || url.password) {
    throw new GatewayError(GatewayErrorCode.InvalidEncodedBaseUrl, 'encoded_base_url must not carry credentials.');
  }
  return url;
}

/** The six tags of a tracked completion, in the original's order. */
export function buildMetadataTags(metadata: RolloutMetadata, insertionId: string): string[] {
  return [
    `${ROLLOUT_TAG_PREFIX}${metadata.rolloutId}`,
    `${INSERTION_TAG_PREFIX}${insertionId}`,
    `invocation_id:${metadata.invocationId}`,
    `experiment_id:${metadata.experimentId}`,
    `run_id:${metadata.runId}`,
    `row_id:${metadata.rowId}`,
  ];
}

/** The two tags of a trail completion: the trail, then the insertion id. */
export function buildTrailTags(trailId: string, insertionId: string): string[] {
  return [`${TRAIL_TAG_PREFIX}${trailId}`, `${INSERTION_TAG_PREFIX}${insertionId}`];
}

/** Client tags first, then ours; a client tag equal to one of ours is not repeated. */
export function mergeTags(clientTags: unknown, ours: string[]): string[] {
  const mine = Array.isArray(clientTags) ? clientTags.filter((t): t is string => typeof t === 'string') : [];
  const seen = new Set(mine);
  return [...mine, ...ours.filter((t) => !seen.has(t))];
}
