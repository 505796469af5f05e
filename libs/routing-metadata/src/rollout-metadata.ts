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
  /** The rollout's id, or with `trail` the trail's. */
  rolloutId: string;
  /**
   * A trail (the trail routes: `trails/{trail_id}/chat/completions`), kept
   * apart from a rollout of the same id.
   */
  trail?: boolean;
}

/** One string per distinct RolloutRef, for maps (project, kind and id, unambiguous). */
export function refKey(ref: RolloutRef): string {
  return JSON.stringify([ref.projectId ?? '', ref.trail ? 't' : 'r', ref.rolloutId]);
}

/** What a chat route's path says about the call. */
export interface ChatRoute {
  /** Explicit `project_id/{p}` segment; undefined → default project. */
  projectId?: string;
  /** Present on tracked routes only. */
  metadata?: RolloutMetadata;
  /** Present on the trail routes only: tracked under the trail, with two tags. */
  trailId?: string;
  /** Decoded `encoded_base_url`, when the path carries one. */
  baseUrl?: URL;
}

export const ROLLOUT_TAG_PREFIX = 'rollout_id:';
export const INSERTION_TAG_PREFIX = 'insertion_id:';
export const TRAIL_TAG_PREFIX = 'trail_id:';
/** What a call the client saw fail carries instead of its rollout_id: / trail_id: tag. */
export const FAILED_TAG_PREFIXES = ['failed_rollout_id:', 'failed_trail_id:'] as const;

/** The values of the tags that start with `prefix` (e.g. every insertion id of a trace). */
export function tagValues(tags: readonly string[], prefix: string): string[] {
  return tags.filter((t) => t.startsWith(prefix)).map((t) => t.slice(prefix.length));
}
