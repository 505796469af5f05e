/**
 * Key layout. The rollout id sits in a `{hash tag}` so every key of one
 * rollout lands in the same Redis Cluster slot; braces inside an id would
 * break the tag, so they are escaped.
 */
export class RedisKeys {
  constructor(private readonly prefix: string) {}

  private tag(rolloutId: string): string {
    const safe = rolloutId.replace(/[{}]/g, (c) => (c === '{' ? '%7B' : '%7D'));
    return `${this.prefix ? `${this.prefix}:` : ''}{${safe}}`;
  }

  ids(rolloutId: string): string {
    return `${this.tag(rolloutId)}:ids`;
  }

  logs(rolloutId: string): string {
    return `${this.tag(rolloutId)}:logs`;
  }

  status(rolloutId: string): string {
    return `${this.tag(rolloutId)}:status`;
  }
}
