import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { IsArray, IsObject, IsOptional, IsString, MaxLength, validateSync, ValidationError } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { GatewayError, GatewayErrorCode, JSON_VALUE } from '@app/common';
import { rolloutIdsOf, StoredLogEntry } from './rollout-log.entry';
import { RolloutStatusLimits } from './rollout-status.settings';
import { isPlainObject, normalizeStatus } from './status.normalizer';

/** Same bound as the chat routes put on path ids. */
export const MAX_ROLLOUT_ID_LENGTH = 256;
export const MAX_TAG_LENGTH = 1024;
export const MAX_PROGRAM_LENGTH = 256;

/** The top-level fields of a log entry that are read; anything else in the body is ignored. */
const POST_LOG_FIELDS = ['program', 'status', 'message', 'tags', 'extras', 'metadata', 'severity'] as const satisfies ReadonlyArray<keyof PostLogBody>;

/** `status` as current SDKs post it (documentation only; normalizeStatus reads it). */
export class PostedStatus {
  @ApiProperty({ type: 'integer', minimum: 0, description: '101 = still running, 100 = finished, else a google.rpc.Code (e.g. 13 = internal error).', example: 100 })
  code: number;

  @ApiPropertyOptional({ example: 'Rollout finished' })
  message?: string;

  @ApiPropertyOptional({ ...JSON_VALUE, description: 'Any JSON value.', example: [] })
  details?: unknown;
}

/** `status` as some SDK versions posted it. */
export class PostedLegacyStatus {
  @ApiProperty({ type: 'integer', minimum: 0, example: 101 })
  status_code: number;

  @ApiPropertyOptional()
  status_message?: string;

  @ApiPropertyOptional({ ...JSON_VALUE, description: 'Any JSON value.' })
  status_details?: unknown;
}

/**
 * The body of `POST /logs` as eval-protocol's FireworksTracingHttpHandler
 * sends it. Only types are declared here; the configurable bounds and the
 * status shapes are checked in parseLogEntry. Unknown fields are ignored, so
 * a newer SDK adding one is not refused.
 *
 * Filled by hand from the body's own top-level fields (fromBody), never by
 * class-transformer: extras, metadata and status are arbitrary client JSON,
 * which plainToInstance recurses into and crashed on (a `constructor` key,
 * deep nesting). They stay the plain values JSON.parse made.
 */
@ApiExtraModels(PostedStatus, PostedLegacyStatus)
export class PostLogBody {
  @ApiPropertyOptional({ type: String, nullable: true, maxLength: MAX_PROGRAM_LENGTH, example: 'eval_protocol' })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_PROGRAM_LENGTH)
  program?: string | null;

  /** One of three shapes; see normalizeStatus. */
  @ApiPropertyOptional({
    description:
      'The rollout’s status, in any of the shapes SDK versions post: `{code, message, details}`, `{status_code, status_message, status_details}`, or a word (running, finished, error, …) with `metadata.status_code` / `status_message` / `status_details`. Stored as `{code, message, details}`; GET /status returns the newest.',
    oneOf: [{ $ref: getSchemaPath(PostedStatus) }, { $ref: getSchemaPath(PostedLegacyStatus) }, { type: 'string', example: 'finished' }],
    nullable: true,
  })
  @IsOptional()
  status?: unknown;

  @ApiProperty({ description: 'At most ROLLOUT_LOG_MAX_MESSAGE_CHARS characters.', example: 'Rollout finished' })
  @IsString()
  message: string;

  @ApiProperty({
    type: [String],
    description: 'At least one `rollout_id:<id>` tag: the entry is stored under every rollout named (at most ROLLOUT_LOG_MAX_TAGS tags).',
    example: ['rollout_id:r-42', 'experiment_id:exp-1'],
  })
  @IsArray()
  @IsString({ each: true })
  @MaxLength(MAX_TAG_LENGTH, { each: true })
  tags: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true, description: 'Kept with the entry; `extras.level` gives the severity when `severity` is absent.', example: { level: 'INFO' } })
  @IsOptional()
  @IsObject()
  extras?: Record<string, unknown> | null;

  /** Older SDKs: status_code / status_message / status_details next to `status: "<word>"`. */
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true, description: 'Older SDKs: `status_code`, `status_message`, `status_details` next to `status: "<word>"`; other members are kept under `extras.metadata`.' })
  @IsOptional()
  @IsObject()
  metadata?: Record<string, unknown> | null;

  /** Not sent by the SDK today (it puts the level in extras.level); honoured when present. */
  @ApiPropertyOptional({ type: String, nullable: true, description: 'DEFAULT, DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL, ALERT or EMERGENCY (WARN, FATAL, TRACE, ERR accepted).' })
  @IsOptional()
  @IsString()
  severity?: string | null;

  static fromBody(body: Record<string, unknown>): PostLogBody {
    const dto = new PostLogBody();
    for (const field of POST_LOG_FIELDS) {
      if (Object.hasOwn(body, field)) (dto as unknown as Record<string, unknown>)[field] = body[field];
    }
    return dto;
  }
}

export interface ParsedLogEntry {
  /** Every rollout the entry belongs to (group-wise logs carry several `rollout_id:` tags). */
  rolloutIds: string[];
  entry: StoredLogEntry;
}

/** Google Cloud Logging's severities, which the hosted original's `severity` field follows. */
export const SEVERITIES = ['DEFAULT', 'DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY'] as const;
const SEVERITY_ALIASES: Record<string, string> = { WARN: 'WARNING', FATAL: 'CRITICAL', TRACE: 'DEBUG', ERR: 'ERROR' };

/** Validates and normalises one `POST /logs` body; throws a 400 that names the field or limit. */
export function parseLogEntry(body: unknown, limits: RolloutStatusLimits, now = Date.now()): ParsedLogEntry {
  if (!isPlainObject(body)) {
    throw invalid('the body must be a JSON object {program, status, message, tags, extras} sent with Content-Type: application/json.');
  }
  const bytes = Buffer.byteLength(jsonOf(body), 'utf8');
  if (bytes > limits.ROLLOUT_LOG_MAX_ENTRY_BYTES) {
    throw invalid(`the entry is ${bytes} bytes of JSON, more than ROLLOUT_LOG_MAX_ENTRY_BYTES (${limits.ROLLOUT_LOG_MAX_ENTRY_BYTES}). Log less, or raise the limit.`);
  }
  const dto = PostLogBody.fromBody(body);
  const errors = validateSync(dto, { forbidUnknownValues: false });
  if (errors.length > 0) throw invalid(`${errors.map(describe).join('; ')}.`);

  if (dto.message.length > limits.ROLLOUT_LOG_MAX_MESSAGE_CHARS) {
    throw invalid(`message is ${dto.message.length} characters, more than ROLLOUT_LOG_MAX_MESSAGE_CHARS (${limits.ROLLOUT_LOG_MAX_MESSAGE_CHARS}).`);
  }
  if (dto.tags.length > limits.ROLLOUT_LOG_MAX_TAGS) {
    throw invalid(`tags has ${dto.tags.length} entries, more than ROLLOUT_LOG_MAX_TAGS (${limits.ROLLOUT_LOG_MAX_TAGS}).`);
  }
  const rolloutIds = rolloutIdsOf(dto.tags);
  if (rolloutIds.length === 0) {
    throw new GatewayError(
      GatewayErrorCode.MissingRolloutTag,
      'Invalid log entry: tags must include at least one "rollout_id:<id>" tag (logs are stored per rollout).',
    );
  }
  const tooLong = rolloutIds.find((id) => id.length > MAX_ROLLOUT_ID_LENGTH);
  if (tooLong) throw invalid(`a rollout_id tag names an id longer than ${MAX_ROLLOUT_ID_LENGTH} characters.`);

  const status = normalizeStatus(dto.status, dto.metadata);
  return {
    rolloutIds,
    entry: {
      id: randomUUID(),
      ts: now,
      program: dto.program ?? null,
      message: dto.message,
      severity: severityOf(dto.severity, dto.extras),
      tags: [...dto.tags],
      status,
      extras: extrasOf(dto.extras, dto.metadata),
    },
  };
}

/** An explicit `severity` must be a known one; otherwise the SDK's `extras.level`, else INFO. */
export function severityOf(severity: string | null | undefined, extras: Record<string, unknown> | null | undefined): string {
  if (severity !== undefined && severity !== null) {
    const known = canonicalSeverity(severity);
    if (!known) throw invalid(`severity "${severity.slice(0, 40)}" is not one of ${SEVERITIES.join(', ')}.`);
    return known;
  }
  const level = extras?.level;
  return (typeof level === 'string' && canonicalSeverity(level)) || 'INFO';
}

function canonicalSeverity(value: string): string | undefined {
  const upper = value.trim().toUpperCase();
  const canonical = SEVERITY_ALIASES[upper] ?? upper;
  return (SEVERITIES as readonly string[]).includes(canonical) ? canonical : undefined;
}

/** metadata fields other than the status ones are kept, under extras.metadata. */
function extrasOf(extras: Record<string, unknown> | null | undefined, metadata: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  const rest = Object.fromEntries(Object.entries(metadata ?? {}).filter(([k]) => !['status_code', 'status_message', 'status_details'].includes(k)));
  if (Object.keys(rest).length === 0) return extras ?? null;
  return { ...(extras ?? {}), metadata: { ...rest, ...(isPlainObject(extras?.metadata) ? extras.metadata : {}) } };
}

/** The gateway's body parser caps nesting; a caller that skipped it still gets a 400, not a stack overflow. */
function jsonOf(body: Record<string, unknown>): string {
  try {
    return JSON.stringify(body);
  } catch (err) {
    if (err instanceof RangeError) throw invalid('the entry nests too deeply to be stored as JSON. Send a flatter entry.');
    throw err;
  }
}

function describe(e: ValidationError): string {
  const constraints = Object.values(e.constraints ?? {});
  return constraints.length > 0 ? constraints.join(', ') : `${e.property} is invalid`;
}

function invalid(message: string): GatewayError {
  return new GatewayError(GatewayErrorCode.BadRequest, `Invalid log entry: ${message}`);
}
