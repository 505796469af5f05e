import { GatewayError, GatewayErrorCode } from '@app/common';
import { rolloutIdsOf } from './rollout-log.entry';
import { MAX_ROLLOUT_ID_LENGTH } from './log-entry.parser';

export const DEFAULT_LOGS_LIMIT = 100;
/** Past it a limit is a client's mistake (no list holds near that many entries), not a wish for everything. */
export const MAX_LOGS_LIMIT = 1_000_000;
/** Ten years, as /traces: longer than any rollout's logs live (ROLLOUT_TTL_SECONDS). */
export const MAX_HOURS_BACK = 24 * 366 * 10;

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
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LOGS_LIMIT) {
    throw invalidQuery(`limit must be a positive integer, at most ${MAX_LOGS_LIMIT} (got "${String(query.limit).slice(0, 40)}").`);
  }
  const hoursBack = optionalNumber('hours_back', query.hours_back);
  if (hoursBack !== undefined && !(hoursBack > 0 && hoursBack <= MAX_HOURS_BACK)) {
    throw invalidQuery(`hours_back must be a positive number of hours, at most ${MAX_HOURS_BACK} (got "${String(query.hours_back).slice(0, 40)}").`);
  }
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

/** Decimal only: Number() would also read 0x10, 0b11 and whitespace as numbers. */
const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function optionalNumber(name: string, value: unknown): number | undefined {
  const s = optionalString(name, value);
  if (s === undefined) return undefined;
  const n = Number(s.trim());
  if (!DECIMAL.test(s.trim()) || !Number.isFinite(n)) throw invalidQuery(`${name} must be a number (got "${s.slice(0, 40)}").`);
  return n;
}

function invalidQuery(message: string): GatewayError {
  return new GatewayError(GatewayErrorCode.InvalidQuery, `Invalid query: ${message}`);
}
