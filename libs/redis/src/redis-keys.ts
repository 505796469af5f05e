/**
 * The key layout of everything stored per rollout: `prefix:{rollout}:kind`.
 * The rollout id sits in a `{hash tag}` so every key of one rollout lands in
 * the same Redis Cluster slot; braces inside an id would break the tag, so
 * they are escaped.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** The key of one kind of a rollout's data (`ids`, `logs`, `status`, …). */
  rollout(rolloutId: string, kind: string): string {
    const safe = rolloutId.replace(/[{}]/g, (c) => (c === '{' ? '%7B' : '%7D'));
    return `${this.prefix ? `${this.prefix}:` : ''}{${safe}}:${kind}`;
  }
}
