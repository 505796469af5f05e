import type { RolloutRef } from '@app/routing-metadata';

/**
 * The key layout of everything stored per rollout:
 * `prefix:{<project>:<rollout>}:kind` (a trail: `prefix:{<project>:trail:<trail>}:kind`).
 *
 * The project and the rollout id sit together in one `{hash tag}`, so every
 * key of a rollout lands in the same Redis Cluster slot and two projects
 * using the same rollout id never share a key. Each part is escaped so the
 * encoding is injective: `%` → `%25`, `{` → `%7B`, `}` → `%7D`, `:` → `%3A`
 * (a brace would break the hash tag, a colon the separator, and an unescaped
 * `%` would let `a%7Bb` and `a{b` collide).
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /**
   * The key of one kind of a rollout's data (`ids`, `logs`, `status`, …). A
   * trail's keys carry `trail:` before its id, inside the hash tag: the
   * escaped parts hold no `:`, so they never meet a rollout's.
   */
  rollout(ref: RolloutRef, kind: string): string {
    return `${this.prefix ? `${this.prefix}:` : ''}{${escapeKeyPart(ref.projectId ?? '')}:${ref.trail ? 'trail:' : ''}${escapeKeyPart(ref.rolloutId)}}:${kind}`;
  }

  /** A key of the gateway's own (not per rollout), in a hash tag of its own. */
  shared(name: string): string {
    return `${this.prefix ? `${this.prefix}:` : ''}{${escapeKeyPart(name)}}`;
  }
}

const SPECIAL = /[%{}:]/g;
const ESCAPES: Record<string, string> = { '%': '%25', '{': '%7B', '}': '%7D', ':': '%3A' };

export function escapeKeyPart(part: string): string {
  return part.replace(SPECIAL, (c) => ESCAPES[c]);
}
