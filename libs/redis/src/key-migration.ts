/**
 * Copies rollout data written under an older key layout into today's
 * (`prefix:{<project>:<rollout>}:kind`, redis-keys.ts), for an operator
 * switching to this gateway or upgrading it:
 *
 * - `original`: the Python gateway's sets of insertion ids, stored under the
 *   bare rollout id (`SADD <rollout> <id>`). Given rollout ids, or found by
 *   SCAN: set keys outside the prefix whose members are all UUIDs.
 * - `prefixed`: this gateway's layout before projects were part of the key,
 *   `prefix:{<rollout>}:ids|logs|status` (braces as %7B/%7D). Found by SCAN,
 *   except rollout ids with a ':' (their old keys look like today's): name
 *   those.
 *
 * Every rollout goes to one project (the one its traces are in: usually the
 * secrets file's default_project_id). Nothing is deleted: ids are merged
 * into the new set, logs and status copied when the new key does not exist
 * yet; expiry times are kept. Values are read and written again (not
 * SUNIONSTORE/COPY): the old and new keys sit in different slots of a
 * Redis Cluster. A dry run (the default) only reports what it would do.
 */
import { Cluster } from 'ioredis';
import type Redis from 'ioredis';
import { RedisKeys } from './redis-keys';
import type { RedisClient } from './redis-topology';

export type KeyLayout = 'original' | 'prefixed';

export interface KeyMigrationOptions {
  from: KeyLayout;
  /** REDIS_KEY_PREFIX of the gateway (the old and the new keys share it). */
  prefix: string;
  /** Project the migrated rollouts belong to. */
  project: string;
  /** Only these rollouts (original: required unless `scan`). */
  rollouts?: string[];
  /** original: find the rollout sets by SCAN instead of a list. */
  scan?: boolean;
  /** false (default): report only. */
  apply?: boolean;
  log?: (line: string) => void;
}

export interface KeyMigrationReport {
  /** Old key → new key, for every key copied (or that would be). */
  copied: Array<{ from: string; to: string; kind: string; ids?: number }>;
  /** Keys left alone, with the reason. */
  skipped: Array<{ key: string; reason: string }>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KINDS = ['ids', 'logs', 'status'] as const;
const GATEWAY_KEY = /\{[^{}]*\}:(ids|logs|status)$/;

export async function migrateRolloutKeys(redis: RedisClient, options: KeyMigrationOptions): Promise<KeyMigrationReport> {
  if (!options.project) throw new Error('Say which project the rollouts belong to (project=…): usually default_project_id of the secrets file.');
  const keys = new RedisKeys(options.prefix);
  const report: KeyMigrationReport = { copied: [], skipped: [] };
  const log = options.log ?? (() => undefined);
  const only = options.rollouts && options.rollouts.length > 0 ? new Set(options.rollouts) : undefined;

  const sources: Array<{ key: string; rollout: string; kind: (typeof KINDS)[number] }> = [];
  if (options.from === 'original') {
    if (!only && !options.scan) throw new Error('Name the rollouts (rollouts=a,b) or let the migration look for them (scan=true).');
    const candidates = only ? [...only] : await scanAll(redis, '*');
    for (const key of candidates) {
      if (options.prefix && key.startsWith(`${options.prefix}:`)) continue;
      if (!only && GATEWAY_KEY.test(key)) continue; // a key of this gateway (any prefix), not a bare rollout id
      const type = await redis.type(key);
      if (type === 'none') {
        if (only) report.skipped.push({ key, reason: 'no such key' });
        continue;
      }
      if (type !== 'set') {
        if (only) report.skipped.push({ key, reason: `a ${type}, not a set of insertion ids` });
        continue;
      }
      const sample = await redis.srandmember(key, 20);
      if (sample.length === 0 || !sample.every((id) => UUID.test(id))) {
        report.skipped.push({ key, reason: 'its members are not all UUIDs (not a rollout of the original gateway?)' });
        continue;
      }
      sources.push({ key, rollout: key, kind: 'ids' });
    }
  } else if (only) {
    for (const rollout of only) {
      for (const kind of KINDS) {
        const key = `${options.prefix ? `${options.prefix}:` : ''}{${rollout.replace(/\{/g, '%7B').replace(/\}/g, '%7D')}}:${kind}`;
        if (await redis.exists(key)) sources.push({ key, rollout, kind });
      }
    }
  } else {
    // A rollout id with a ':' looks like today's layout in the old one: those need naming (rollouts=).
    const pattern = `${options.prefix ? `${escapeGlob(options.prefix)}:` : ''}{*}:*`;
    const old = new RegExp(`^${options.prefix ? `${escapeRegExp(options.prefix)}:` : ''}\\{([^{}:]*)\\}:(${KINDS.join('|')})$`);
    for (const key of await scanAll(redis, pattern)) {
      const m = old.exec(key);
      if (!m) continue; // today's layout (a ':' inside the braces), or not a rollout key
      sources.push({ key, rollout: m[1].replace(/%7B/g, '{').replace(/%7D/g, '}'), kind: m[2] as (typeof KINDS)[number] });
    }
  }

  for (const { key, rollout, kind } of sources) {
    const to = keys.rollout({ projectId: options.project, rolloutId: rollout }, kind);
    if (kind === 'ids') {
      const ids = await redis.scard(key);
      if (options.apply) {
        const [ttlFrom, ttlTo, members] = await Promise.all([redis.pttl(key), redis.pttl(to), redis.smembers(key)]);
        if (members.length > 0) await redis.sadd(to, ...members);
        // Keep the longer life of the two; a key without expiry stays without.
        if (ttlFrom === -1 || ttlTo === -1) await redis.persist(to);
        else await redis.pexpire(to, Math.max(ttlFrom, ttlTo));
      }
      report.copied.push({ from: key, to, kind, ids });
      log(`${options.apply ? 'merged' : 'would merge'} ${ids} id(s): ${key} → ${to}`);
    } else {
      if (await redis.exists(to)) {
        report.skipped.push({ key, reason: `${to} exists already` });
        log(`left ${key}: ${to} exists already`);
        continue;
      }
      if (options.apply) await copyKey(redis, key, to);
      report.copied.push({ from: key, to, kind });
      log(`${options.apply ? 'copied' : 'would copy'} ${key} → ${to}`);
    }
  }
  return report;
}

/** Every key matching `pattern`; on a cluster, of every master. */
async function scanAll(redis: RedisClient, pattern: string): Promise<string[]> {
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      found.push(...batch);
      cursor = next;
    } while (cursor !== '0');
  }
  return [...new Set(found)];
}

/** A list or hash copied to a new key (in any slot), with its expiry. */
async function copyKey(redis: RedisClient, from: string, to: string): Promise<void> {
  const [type, ttl] = await Promise.all([redis.type(from), redis.pttl(from)]);
  if (type === 'list') {
    const items = await redis.lrange(from, 0, -1);
    if (items.length > 0) await redis.rpush(to, ...items);
  } else if (type === 'hash') {
    const fields = await redis.hgetall(from);
    if (Object.keys(fields).length > 0) await redis.hset(to, fields);
  } else {
    throw new Error(`${from} is a ${type}: only lists (logs) and hashes (status) are copied`);
  }
  if (ttl > 0) await redis.pexpire(to, ttl);
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
