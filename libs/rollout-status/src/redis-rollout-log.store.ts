import { Logger } from '@nestjs/common';
import { RedisClient, RedisKeys } from '@app/redis';
import type { RolloutRef } from '@app/routing-metadata';
import { StoredLogEntry, StoredStatus } from './rollout-log.entry';
import { RolloutLogStore, RolloutLogStoreOptions } from './rollout-log.store';

/**
 * One atomic step per rollout: push, trim, and keep the status only if it is
 * not older than the stored one (two replicas may receive a rollout's
 * "running" and "finished" entries out of order; the newer must win).
 * Both keys share the rollout's `{hash tag}`, so this works on Redis Cluster.
 */
const APPEND_SCRIPT = `
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
if ARGV[4] ~= '' then
  local current = redis.call('HGET', KEYS[2], 'ts')
  if (not current) or tonumber(current) <= tonumber(ARGV[4]) then
    redis.call('HSET', KEYS[2], 'ts', ARGV[4], 'value', ARGV[5])
  end
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
`;

/**
 * Logs of a rollout in a Redis list (`{prefix}:{rollout}:logs`, LPUSH so the
 * newest is first, LTRIM to maxEntries); its newest status in a hash
 * (`{prefix}:{project:rollout}:status`: ts, value). Same key layout and TTL as the
 * completeness store, renewed on every write.
 */
export class RedisRolloutLogStore extends RolloutLogStore {
  readonly kind = 'redis';
  private readonly logger = new Logger(RedisRolloutLogStore.name);

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: RolloutLogStoreOptions,
  ) {
    super();
  }

  async append(rollout: RolloutRef, entry: StoredLogEntry): Promise<void> {
    const status = entry.status ? JSON.stringify({ status: entry.status, extras: entry.extras }) : '';
    await this.redis.eval(
      APPEND_SCRIPT,
      2,
      this.keys.rollout(rollout, 'logs'),
      this.keys.rollout(rollout, 'status'),
      JSON.stringify(entry),
      this.options.maxEntries,
      this.options.ttlSeconds,
      entry.status ? String(entry.ts) : '',
      status,
    );
  }

  async range(rollout: RolloutRef, offset: number, count: number): Promise<StoredLogEntry[]> {
    if (count <= 0) return [];
    const raw = await this.redis.lrange(this.keys.rollout(rollout, 'logs'), offset, offset + count - 1);
    const entries: StoredLogEntry[] = [];
    for (const item of raw) {
      const entry = this.parse<StoredLogEntry>(item, rollout.rolloutId);
      if (entry) entries.push(entry);
    }
    return entries;
  }

  async count(rollout: RolloutRef): Promise<number> {
    return this.redis.llen(this.keys.rollout(rollout, 'logs'));
  }

  async latestStatus(rollout: RolloutRef): Promise<StoredStatus | null> {
    const [ts, value] = await this.redis.hmget(this.keys.rollout(rollout, 'status'), 'ts', 'value');
    if (ts === null || value === null) return null;
    const parsed = this.parse<Omit<StoredStatus, 'ts'>>(value, rollout.rolloutId);
    return parsed ? { ts: Number(ts), status: parsed.status, extras: parsed.extras ?? null } : null;
  }

  /** A value this gateway did not write (or a future format) is skipped, not a 500. */
  private parse<T>(raw: string, rolloutId: string): T | undefined {
    try {
      return JSON.parse(raw) as T;
    } catch {
      this.logger.warn(`Skipping an unreadable value stored for rollout ${rolloutId}`);
      return undefined;
    }
  }
}
