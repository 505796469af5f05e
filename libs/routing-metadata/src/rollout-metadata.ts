/** The five path-carried ids of a tracked completion. */
export interface RolloutMetadata {
  rolloutId: string;
  invocationId: string;
  experimentId: string;
  runId: string;
  rowId: string;
}

/**
 * A rollout as the gateway keeps it: the project it belongs to and its id.
 * Two projects using the same rollout id are two rollouts; a key scoped to
 * one project never reaches the other's.
 */
export interface RolloutRef {
  /** undefined when no project applies (no secrets file: tracing off). */
  projectId?: string;
  rolloutId: string;
}

/** What a chat route's path says about the call. */
export interface ChatRoute {
  /** Explicit `project_id/{p}` segment; undefined → default project. */
  projectId?: string;
  /** Present on tracked routes only. */
  metadata?: RolloutMetadata;
  /** Decoded `encoded_base_url`, when the path carries one. */
  baseUrl?: URL;
}

export const ROLLOUT_TAG_PREFIX = 'rollout_id:';
export const INSERTION_TAG_PREFIX = 'insertion_id:';

/** The values of the tags that start with `prefix` (e.g. every insertion id of a trace). */
export function tagValues(tags: readonly string[], prefix: string): string[] {
  return tags.filter((t) => t.startsWith(prefix)).map((t) => t.slice(prefix.length));
}
