import { ApiPropertyOptional } from '@nestjs/swagger';
import { plainToInstance, Transform } from 'class-transformer';
import { IsArray, IsInt, IsISO8601, IsNumber, IsOptional, IsString, Max, MaxLength, Min, validateSync } from 'class-validator';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { ROLLOUT_TAG_PREFIX, tagValues } from '@app/routing-metadata';

/** The query of the /traces routes, validated (snake_case, as on the wire). */
export interface TracesQuery {
  /**
   * All must match. With `rollout_id:<id>` tags each named rollout is read
   * complete; without one, a plain tag-filtered read (checked after the
   * preprocessor ran).
   */
  tags: string[];
  /**
   * A rollout read: the page size of Langfuse list calls (legacy API: at most
   * 100), never a cap on a complete answer. A read without a rollout: the
   * newest `limit` traces, as the original's one list call returned.
   */
  limit: number;
  /** Return at most this many traces, sampled, once the rollout is complete. */
  sample_size?: number;
  user_id?: string;
  session_id?: string;
  name?: string;
  environment?: string;
  version?: string;
  release?: string;
  /**
   * Accepted as the original does; it never narrows the answer: every trace
   * carries its input, output and observations whatever it says.
   */
  fields?: string;
  hours_back?: number;
  /** ISO 8601 */
  from_timestamp?: string;
  /** ISO 8601 */
  to_timestamp?: string;
  /** Seconds between consecutive trace reads. */
  sleep_between_gets?: number;
  /** Langfuse reads in all (the first, then re-queries for missing traces), as in the original; 0 reads once. */
  max_retries: number;
}

/** Longest text parameter (names, ids, fields): far beyond any real value, and keeps Langfuse URLs sane. */
const MAX_TEXT = 1_000;

/**
 * Upper bound of the count parameters (limit, sample_size, page). No rollout
 * one response can carry comes near it, and it is far below 2^53, where
 * integers stop being exact; as a page size or a sample cap a larger value
 * would change nothing, so it is a client's mistake worth a 400.
 */
export const MAX_COUNT = 1_000_000;
const MAX_HOURS_BACK = 24 * 366 * 10;

/** What each parameter accepts, for error messages. */
const EXPECTED: Record<string, string> = {
  tags: 'one or more tags, repeated as ?tags=a&tags=b',
  limit: `an integer between 1 and ${MAX_COUNT} (default 100)`,
  sample_size: `an integer between 1 and ${MAX_COUNT}`,
  page: `an integer between 1 and ${MAX_COUNT} (ignored: the gateway reads every page itself)`,
  user_id: 'a single non-empty string',
  session_id: 'a single non-empty string',
  name: 'a single non-empty string',
  environment: 'a single non-empty string',
  version: 'a single non-empty string',
  release: 'a single non-empty string',
  fields: `a string of at most ${MAX_TEXT} characters (accepted; every trace is returned in full whatever it says)`,
  hours_back: `a number of hours > 0 and at most ${MAX_HOURS_BACK} (ten years)`,
  from_timestamp: 'an ISO 8601 date-time such as 2026-01-31T12:00:00Z',
  to_timestamp: 'an ISO 8601 date-time such as 2026-01-31T12:00:00Z',
  sleep_between_gets: 'a number of seconds between 0 and 60',
  max_retries: 'an integer between 0 and 20: Langfuse reads in all (default 3)',
};

const absent = (v: unknown) => v === undefined || v === null || v === '';

/** Query strings are text: numbers are parsed here (not by implicit conversion, which would turn `abc` into NaN silently and arrays into "a,b"). */
function toNumber({ value }: { value: unknown }): unknown {
  if (absent(value)) return undefined;
  if (typeof value === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) return Number(value);
  return value;
}

function toOptionalString({ value }: { value: unknown }): unknown {
  return absent(value) ? undefined : value;
}

function toTags({ value }: { value: unknown }): unknown {
  if (absent(value)) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.filter((v) => v !== '');
}

/** The query as the wire has it: validated here (parseTracesQuery), documented for /openapi.json. */
export class TracesQueryDto {
  @ApiPropertyOptional({
    type: [String],
    description:
      'Repeat for several (`?tags=a&tags=b`); a trace must carry all. With `rollout_id:<id>` tags each named rollout is read complete (every recorded completion, or 404 `incomplete_traces`); without one, a plain tag-filtered read of the newest `limit` traces.',
    example: ['rollout_id:r-42'],
  })
  @Transform(toTags)
  @IsArray()
  @IsString({ each: true })
  tags: string[] = [];

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_COUNT,
    default: 100,
    description: 'A rollout read: the page size of Langfuse list calls, never a cap on a complete answer. A read without a rollout: the newest `limit` traces.',
  })
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(MAX_COUNT)
  limit: number = 100;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_COUNT, description: 'Return at most this many traces, sampled, once the rollout is complete (not on /pointwise).' })
  @Transform(toNumber)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_COUNT)
  sample_size?: number;

  /**
   * The Langfuse API's page number, which clients written against it may
   * send. The gateway reads every page itself, so it is checked (a positive
   * integer) and otherwise ignored.
   */
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_COUNT, description: 'Checked and ignored: the gateway reads every page itself.' })
  @Transform(toNumber)
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_COUNT)
  page?: number;

  @ApiPropertyOptional({ description: 'Only traces of this user.' })
  @Transform(toOptionalString)
  @IsOptional()
  @IsString()
  user_id?: string;

  @ApiPropertyOptional({ description: 'Only traces of this session.' })
  @Transform(toOptionalString)
  @IsOptional()
  @IsString()
  session_id?: string;

  @ApiPropertyOptional({ description: 'Only traces of this name.' })
  @Transform(toOptionalString)
  @IsOptional()
  @IsString()
  name?: string;

  @ApiPropertyOptional({ description: 'Only traces of this Langfuse environment.' })
  @Transform(toOptionalString)
  @IsOptional()
  @IsString()
  environment?: string;

  @ApiPropertyOptional({ description: 'Only traces of this version.' })
  @Transform(toOptionalString)
  @IsOptional()
  @IsString()
  version?: string;

  @ApiPropertyOptional({ description: 'Only traces of this release.' })
  @Transform(toOptionalString)
  @IsOptional()
  @IsString()
  release?: string;

  @ApiPropertyOptional({ maxLength: MAX_TEXT, description: 'Accepted as the original does; it never narrows the answer: every trace carries its input, output and observations whatever it says.' })
  @Transform(toOptionalString)
  @IsOptional()
  @IsString()
  @MaxLength(MAX_TEXT)
  fields?: string;

  @ApiPropertyOptional({ type: 'number', exclusiveMinimum: true, minimum: 0, maximum: MAX_HOURS_BACK, description: 'Only traces of the last this many hours (when neither timestamp is given).' })
  @Transform(toNumber)
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(Number.MIN_VALUE)
  @Max(MAX_HOURS_BACK)
  hours_back?: number;

  // strict: 2026-02-30 is refused rather than read as March 2.
  @ApiPropertyOptional({ format: 'date-time', description: 'ISO 8601 (without a zone: UTC); only traces at or after it. Must be before to_timestamp.', example: '2026-01-31T12:00:00Z' })
  @Transform(toOptionalString)
  @IsOptional()
  @IsISO8601({ strict: true })
  from_timestamp?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'ISO 8601 (without a zone: UTC); only traces before it.' })
  @Transform(toOptionalString)
  @IsOptional()
  @IsISO8601({ strict: true })
  to_timestamp?: string;

  @ApiPropertyOptional({ type: 'number', minimum: 0, maximum: 60, description: 'Seconds between consecutive Langfuse reads of one worker (the gateway also paces itself within its rate budget).', example: 0.1 })
  @Transform(toNumber)
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(60)
  sleep_between_gets?: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: 20,
    default: 3,
    description: 'Langfuse reads in all, as in the original: the first read, then re-queries for the traces still missing, with exponential backoff; 0 reads once.',
  })
  @Transform(toNumber)
  @IsInt()
  @Min(0)
  @Max(20)
  max_retries: number = 3;
}

/**
 * Validates the raw query (unknown parameters such as include_payloads=True
 * are ignored). Any bad value → 400 naming the parameter and what it takes.
 */
export function parseTracesQuery(raw: Record<string, unknown>): TracesQuery {
  const input = raw ?? {};
  const dto = plainToInstance(TracesQueryDto, input, { exposeDefaultValues: true });
  const errors = validateSync(dto, { whitelist: true, forbidNonWhitelisted: false });
  if (errors.length > 0) throw invalidParams(errors.map((e) => e.property), input);
  const query: TracesQuery = { tags: dto.tags, limit: dto.limit, max_retries: dto.max_retries };
  for (const key of ['sample_size', 'user_id', 'session_id', 'name', 'environment', 'version', 'release', 'fields', 'hours_back', 'sleep_between_gets'] as const) {
    if (dto[key] !== undefined) (query as unknown as Record<string, unknown>)[key] = dto[key];
  }
  for (const key of ['from_timestamp', 'to_timestamp'] as const) {
    if (dto[key] === undefined) continue;
    // ISO 8601 forms Date cannot read (basic 20260101T000000Z, week dates 2026-W01).
    const iso = toUtcIso(dto[key]);
    if (iso === undefined) throw invalidParams([key], input);
    query[key] = iso;
  }
  if (query.from_timestamp && query.to_timestamp && query.from_timestamp >= query.to_timestamp) {
    throw new GatewayError(GatewayErrorCode.InvalidQuery, `Invalid query parameters: from_timestamp (${query.from_timestamp}) must be before to_timestamp (${query.to_timestamp}).`, {
      param: ['from_timestamp', 'to_timestamp'],
    });
  }
  return query;
}

function invalidParams(params: string[], raw: Record<string, unknown>): GatewayError {
  const problems = params.map((p) => `${p}: expected ${EXPECTED[p] ?? 'a valid value'} (got ${JSON.stringify(raw[p])})`);
  return new GatewayError(GatewayErrorCode.InvalidQuery, `Invalid query parameter${problems.length > 1 ? 's' : ''}: ${problems.join('; ')}.`, { param: params });
}

/** A date-time without a zone is taken as UTC (as Python's naive isoformat() is meant); undefined when Date cannot read it. */
function toUtcIso(value: string): string | undefined {
  const hasZone = /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(value.trim());
  const hasTime = value.includes('T') || value.includes(' ');
  const date = new Date(hasTime && !hasZone ? `${value.trim()}Z` : value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/**
 * The rollouts the query names (its `rollout_id:<id>` tags), none for a
 * plain tag-filtered read. Checked after the preprocessor, which may add
 * them; a read names at least one tag.
 */
export function rolloutIdsOf(query: TracesQuery): string[] {
  if (query.tags.length === 0) {
    throw new GatewayError(
      GatewayErrorCode.MissingRolloutTag,
      'Say what to read with tags: add ?tags=rollout_id:<your rollout id> to the URL (or any tag the traces carry, e.g. experiment_id:<id>, for a plain tag-filtered read).',
      { param: 'tags' },
    );
  }
  const ids = [...new Set(tagValues(query.tags, ROLLOUT_TAG_PREFIX))];
  if (ids.some((id) => id.trim() === '')) {
    throw new GatewayError(GatewayErrorCode.MissingRolloutTag, 'A rollout_id: tag needs the rollout id after the colon: ?tags=rollout_id:<your rollout id>.', { param: 'tags' });
  }
  return ids;
}
