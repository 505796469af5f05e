import { GatewayError, GatewayErrorCode } from '@app/common';
import { rolloutIdsOf } from './rollout-log.entry';
import { MAX_ROLLOUT_ID_LENGTH } from './log-entry.parser';

export const DEFAULT_LOGS_LIMIT = 100;

export interface LogsQuery {
  /** The rollout whose list is read (the first `rollout_id:` tag). */
  rolloutId: string;
  /** Every tag an entry must carry. */
  tags: string[];
  limit: number;
  /** Only entries at or after this time (epoch ms). */
  since?: number;
  program?: string;
}

/**
 * `GET /logs?tags=rollout_id:R&tags=…&limit=&hours_back=&program=`. A
 * `rollout_id:` tag is required so that every read is one bounded per-rollout
 * list, never a scan. Unknown parameters are ignored.
 */
export function parseLogsQuery(query: Record<string, unknown>, maxLimit: number, now = Date.now()): LogsQuery {
  const tags = stringList('tags', query.tags);
  const rolloutIds = rolloutIdsOf(tags);
  if (rolloutIds.length === 0) {
    throw new GatewayError(
      GatewayErrorCode.MissingRolloutTag,
      'GET /logs needs a tags=rollout_id:<id> parameter: logs are read per rollout.',
    );
  }
  if (rolloutIds[0].length > MAX_ROLLOUT_ID_LENGTH) throw invalidQuery(`the rollout id is longer than ${MAX_ROLLOUT_ID_LENGTH} characters.`);
  const limit = optionalNumber('limit', query.limit) ?? DEFAULT_LOGS_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw invalidQuery('limit must be a positive integer.');
  const hoursBack = optionalNumber('hours_back', query.hours_back);
  if (hoursBack !== undefined && !(hoursBack > 0)) throw invalidQuery('hours_back must be a positive number of hours.');
  const program = optionalString('program', query.program);
  return {
    rolloutId: rolloutIds[0],
    tags: [...new Set(tags)],
    // No list holds more than maxLimit (ROLLOUT_LOGS_MAX_ENTRIES), so a larger limit asks for everything.
    limit: Math.min(limit, maxLimit),
    since: hoursBack === undefined ? undefined : now - hoursBack * 3_600_000,
    program,
  };
}

/** `GET /status?rollout_id=R`. */
export function parseRolloutIdParam(value: unknown, name = 'rollout_id'): string {
  const id = optionalString(name, value);
  if (!id) throw invalidQuery(`${name} is required, e.g. ?${name}=<rollout id>.`);
  if (id.length > MAX_ROLLOUT_ID_LENGTH) throw invalidQuery(`${name} is longer than ${MAX_ROLLOUT_ID_LENGTH} characters.`);
  return id;
}

function stringList(name: string, value: unknown): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((v) => typeof v === 'string')) throw invalidQuery(`${name} must be repeated plain values: ?${name}=a&${name}=b.`);
  return list.filter((v) => v !== '');
}

function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalidQuery(`${name} must be given once, as a plain value.`);
  return value;
}

function optionalNumber(name: string, value: unknown): number | undefined {
  const s = optionalString(name, value);
  if (s === undefined) return undefined;
  const n = Number(s.trim());
  if (s.trim() === '' || !Number.isFinite(n)) throw invalidQuery(`${name} must be a number (got "${s.slice(0, 40)}").`);
  return n;
}

function invalidQuery(message: string): GatewayError {
  return new GatewayError(GatewayErrorCode.InvalidQuery, `Invalid query: ${message}`);
}
