/**
 * GET /api/public/v2/observations — Langfuse v4 observations API
 * (web/src/pages/api/public/v2/observations/index.ts, web/src/features/public-api/types/observations.ts,
 * packages/shared/src/server/repositories/events.ts getObservationsV2FromEventsTableForPublicApi,
 * observations_converters.ts convertEventsObservation).
 */
import {
  compileCondition,
  deriveFilters,
  parseFilterParam,
  type ColumnDef,
  type FilterCondition,
  type SimpleFilter,
} from './filters';
import {
  invalidRequest,
  isoDateTimeParam,
  isPlainObject,
  multi,
  parseJsonPrioritised,
  single,
  zodLike,
  type Query,
} from './http-util';
import { OBSERVATION_LEVELS, OBSERVATION_TYPES, type StoredObservation } from './types';
import { xxHash32 } from './xxhash32';

export const V2_FIELD_GROUPS = [
  'core',
  'basic',
  'time',
  'io',
  'metadata',
  'model',
  'usage',
  'prompt',
  'metrics',
  'trace_context',
] as const;
export type V2FieldGroup = (typeof V2_FIELD_GROUPS)[number];

export const V2_DEFAULT_LIMIT = 50;
export const V2_MAX_LIMIT = 1000;
/** events_core keeps metadata values truncated to 200 characters (expandMetadata lifts it). */
const METADATA_VALUE_LIMIT = 200;

interface Cursor {
  lastStartTimeTo: string;
  lastTraceId: string;
  lastId: string;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64');
}

function decodeCursor(raw: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf-8'));
  } catch {
    throw invalidRequest('Invalid cursor format');
  }
  if (
    !isPlainObject(parsed) ||
    typeof parsed.lastTraceId !== 'string' ||
    typeof parsed.lastId !== 'string' ||
    (typeof parsed.lastStartTimeTo !== 'string' && typeof parsed.lastStartTimeTo !== 'number') ||
    Number.isNaN(new Date(parsed.lastStartTimeTo).getTime())
  ) {
    throw zodLike(['cursor'], 'Invalid cursor format');
  }
  return {
    lastStartTimeTo: new Date(parsed.lastStartTimeTo).toISOString(),
    lastTraceId: parsed.lastTraceId,
    lastId: parsed.lastId,
  };
}

/** Flattens nested metadata to path keys (flattenJsonToPathArrays), values as strings. */
function flattenMetadata(obj: Record<string, unknown>, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const [key, value] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isPlainObject(value)) flattenMetadata(value, path, out);
    else out[path] = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

function reduceDetails(details: Record<string, number>): { input: number | null; output: number | null; total: number } {
  let input: number | null = null;
  let output: number | null = null;
  for (const [k, v] of Object.entries(details)) {
    if (k.includes('input')) input = (input ?? 0) + v;
    if (k.includes('output')) output = (output ?? 0) + v;
  }
  return { input, output, total: Number(details.total ?? 0) };
}

export function latencySeconds(o: StoredObservation): number | null {
  return o.endTime && o.startTime ? (Date.parse(o.endTime) - Date.parse(o.startTime)) / 1000 : null;
}

export function timeToFirstTokenSeconds(o: StoredObservation): number | null {
  return o.completionStartTime ? (Date.parse(o.completionStartTime) - Date.parse(o.startTime)) / 1000 : null;
}

/** eventsTableTraceNameSql: stored trace name, else the name of a root observation. */
function traceNameOf(o: StoredObservation): string | null {
  if (o.traceName) return o.traceName;
  return o.isRootObservation && o.name ? o.name : null;
}

const flatMetadataCache = new WeakMap<StoredObservation, Record<string, string>>();
function flatMetadata(o: StoredObservation): Record<string, string> {
  let flat = flatMetadataCache.get(o);
  if (!flat) {
    flat = flattenMetadata(o.eventMetadata);
    flatMetadataCache.set(o, flat);
  }
  return flat;
}

/** Columns accepted by the v2 `filter` parameter (eventsTableNativeUiColumnDefinitions, subset). */
export const V2_COLUMNS: Record<string, ColumnDef<StoredObservation>> = {
  id: { kind: 'string', field: 'span_id', get: (o) => o.id },
  type: { kind: 'string', field: 'type', get: (o) => o.type },
  name: { kind: 'string', field: 'name', get: (o) => o.name },
  traceId: { kind: 'string', field: 'trace_id', get: (o) => o.traceId },
  startTime: { kind: 'datetime', field: 'start_time', get: (o) => o.startTime },
  endTime: { kind: 'datetime', field: 'end_time', get: (o) => o.endTime },
  environment: { kind: 'string', field: 'environment', get: (o) => o.environment },
  traceEnvironment: { kind: 'string', field: 'environment', get: (o) => o.environment },
  level: { kind: 'string', field: 'level', get: (o) => o.level },
  statusMessage: { kind: 'string', field: 'status_message', get: (o) => o.statusMessage },
  version: { kind: 'string', field: 'version', get: (o) => o.version },
  userId: { kind: 'string', field: 'user_id', get: (o) => o.userId },
  sessionId: { kind: 'string', field: 'session_id', get: (o) => o.sessionId },
  parentObservationId: { kind: 'string', field: 'parent_span_id', get: (o) => o.parentObservationId ?? '' },
  isRootObservation: { kind: 'boolean', field: 'is_root_observation', get: (o) => o.isRootObservation },
  traceName: { kind: 'string', field: 'trace_name', get: traceNameOf },
  traceTags: { kind: 'array', field: 'tags', get: (o) => o.tags },
  tags: { kind: 'array', field: 'tags', get: (o) => o.tags },
  latency: { kind: 'number', field: 'latency', get: latencySeconds },
  timeToFirstToken: { kind: 'number', field: 'time_to_first_token', get: timeToFirstTokenSeconds },
  inputTokens: { kind: 'number', field: 'input_usage', get: (o) => reduceDetails(o.usageDetails).input },
  outputTokens: { kind: 'number', field: 'output_usage', get: (o) => reduceDetails(o.usageDetails).output },
  totalTokens: { kind: 'number', field: 'total_usage', get: (o) => reduceDetails(o.usageDetails).total },
  tokens: { kind: 'number', field: 'total_usage', get: (o) => reduceDetails(o.usageDetails).total },
  inputCost: { kind: 'number', field: 'input_cost', get: (o) => reduceDetails(o.costDetails).input },
  outputCost: { kind: 'number', field: 'output_cost', get: (o) => reduceDetails(o.costDetails).output },
  totalCost: { kind: 'number', field: 'total_cost', get: (o) => reduceDetails(o.costDetails).total },
  model: { kind: 'string', field: 'provided_model_name', get: (o) => o.model },
  providedModelName: { kind: 'string', field: 'provided_model_name', get: (o) => o.model },
  promptName: { kind: 'string', field: 'prompt_name', get: (o) => o.promptName },
  promptVersion: { kind: 'number', field: 'prompt_version', get: (o) => o.promptVersion },
  input: { kind: 'string', field: 'input', get: (o) => o.input, matches: 'ci' },
  output: { kind: 'string', field: 'output', get: (o) => o.output, matches: 'ci' },
  metadata: { kind: 'object', field: 'metadata', get: flatMetadata, matches: 'cs' },
};

function eq(field: string, get: (o: StoredObservation) => unknown, value: string): SimpleFilter<StoredObservation> {
  return { field, predicate: (o) => (get(o) ?? '') === value };
}

function enumParam<T extends string>(query: Query, name: string, allowed: readonly T[]): T | undefined {
  const v = single(query, name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    throw zodLike([name], `Invalid enum value. Expected ${allowed.map((a) => `'${a}'`).join(' | ')}, received '${v}'`, 'invalid_value');
  }
  return v as T;
}

export interface V2Request {
  limit: number;
  fields: V2FieldGroup[] | null;
  expandMetadata: string[] | null;
  cursor?: Cursor;
  predicates: Array<(o: StoredObservation) => boolean>;
}

/** Validates the query exactly as GetObservationsV2Query does (errors → 400). */
export function parseV2Request(query: Query): V2Request {
  const rawFields = single(query, 'fields');
  // commaSeparatedEnumArray(..., null, {unknownValues: 'filter'}): absent/'' → null → core+basic;
  // only unknown names → [] → core only.
  const fields = rawFields
    ? (rawFields
        .split(',')
        .map((f) => f.trim())
        .filter((f) => (V2_FIELD_GROUPS as readonly string[]).includes(f)) as V2FieldGroup[])
    : null;
  const rawExpand = single(query, 'expandMetadata');
  const expandMetadata = rawExpand ? rawExpand.split(',').map((s) => s.trim()).filter(Boolean) : null;

  const rawLimit = single(query, 'limit');
  let limit = V2_DEFAULT_LIMIT;
  if (rawLimit !== undefined && rawLimit !== '') {
    const n = Number(rawLimit);
    if (Number.isNaN(n)) throw zodLike(['limit'], 'Expected number, received nan', 'invalid_type');
    if (n < 0) throw zodLike(['limit'], 'Number must be greater than or equal to 0', 'too_small');
    if (n > V2_MAX_LIMIT) throw zodLike(['limit'], `Number must be less than or equal to ${V2_MAX_LIMIT}`, 'too_big');
    limit = Math.floor(n);
  }
  const rawCursor = single(query, 'cursor');
  const cursor = rawCursor ? decodeCursor(rawCursor) : undefined;

  const parseIoAsJson = single(query, 'parseIoAsJson');
  if (parseIoAsJson !== undefined && parseIoAsJson !== 'false') {
    throw zodLike(
      ['parseIoAsJson'],
      parseIoAsJson === 'true'
        ? 'parseIoAsJson=true is no longer supported on the v2 observations endpoint. Input/output fields are always returned as raw strings. Remove the parseIoAsJson parameter or set it to false.'
        : "Invalid literal value, expected 'true' | 'false'",
    );
  }

  const simple: SimpleFilter<StoredObservation>[] = [];
  const type = enumParam(query, 'type', OBSERVATION_TYPES);
  if (type !== undefined) simple.push(eq('type', (o) => o.type, type));
  const level = enumParam(query, 'level', OBSERVATION_LEVELS);
  if (level !== undefined) simple.push(eq('level', (o) => o.level, level));
  for (const [param, field, get] of [
    ['name', 'name', (o: StoredObservation) => o.name],
    ['userId', 'user_id', (o: StoredObservation) => o.userId],
    ['sessionId', 'session_id', (o: StoredObservation) => o.sessionId],
    ['traceId', 'trace_id', (o: StoredObservation) => o.traceId],
    ['version', 'version', (o: StoredObservation) => o.version],
    // "An empty value matches only observations without a physical parent."
    ['parentObservationId', 'parent_span_id', (o: StoredObservation) => o.parentObservationId ?? ''],
  ] as const) {
    const v = single(query, param);
    if (v !== undefined) simple.push(eq(field, get, v));
  }
  const isRoot = single(query, 'isRootObservation');
  if (isRoot !== undefined) {
    if (isRoot !== 'true' && isRoot !== 'false') {
      throw zodLike(['isRootObservation'], "Invalid enum value. Expected 'true' | 'false'", 'invalid_value');
    }
    simple.push({ field: 'is_root_observation', predicate: (o) => o.isRootObservation === (isRoot === 'true') });
  }
  const env = multi(query, 'environment');
  if (env !== undefined) {
    const envs = new Set(Array.isArray(env) ? env : env.split(','));
    simple.push({ field: 'environment', predicate: (o) => envs.has(o.environment) });
  }
  const from = isoDateTimeParam(query, 'fromStartTime');
  if (from !== undefined) simple.push({ field: 'start_time', predicate: (o) => Date.parse(o.startTime) >= from });
  const to = isoDateTimeParam(query, 'toStartTime');
  if (to !== undefined) simple.push({ field: 'start_time', predicate: (o) => Date.parse(o.startTime) < to });

  const advanced = parseFilterParam(single(query, 'filter'), true);
  validateIoFilters(advanced);
  const predicates = deriveFilters(simple, advanced, V2_COLUMNS);

  return { limit, fields, expandMetadata, cursor, predicates };
}

/** validateInputOutputFilterTypes + validateIndexedInputOutputFilters (events.ts). */
function validateIoFilters(filters: FilterCondition[]): void {
  const io = filters.filter((f) => f.column === 'input' || f.column === 'output');
  if (io.length === 0) return;
  for (const f of io) {
    if (f.type !== 'string') {
      throw invalidRequest(`Invalid filter type '${f.type}' for column '${f.column}'. Expected filter type 'string'.`);
    }
    compileCondition(f, V2_COLUMNS);
  }
  if (!io.some((f) => f.operator === '=' || f.operator === 'matches')) {
    throw invalidRequest('Input/output filters require at least one `matches` or `=` operator.');
  }
}

const traceHashes = new Map<string, number>();
function traceHash(traceId: string): number {
  let h = traceHashes.get(traceId);
  if (h === undefined) {
    h = xxHash32(traceId);
    if (traceHashes.size > 1_000_000) traceHashes.clear();
    traceHashes.set(traceId, h);
  }
  return h;
}

/** Sort key: (start_time DESC, xxHash32(trace_id) DESC, span_id DESC). */
function compareDesc(a: StoredObservation, b: StoredObservation): number {
  const ta = Date.parse(a.startTime);
  const tb = Date.parse(b.startTime);
  if (ta !== tb) return tb - ta;
  const ha = traceHash(a.traceId);
  const hb = traceHash(b.traceId);
  if (ha !== hb) return hb - ha;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function afterCursor(o: StoredObservation, c: Cursor): boolean {
  const t = Date.parse(o.startTime);
  const ct = Date.parse(c.lastStartTimeTo);
  if (t !== ct) return t < ct;
  const h = traceHash(o.traceId);
  const ch = traceHash(c.lastTraceId);
  if (h !== ch) return h < ch;
  return o.id < c.lastId;
}

function renderMetadata(o: StoredObservation, expand: string[] | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flatMetadata(o))) {
    const expanded = expand !== null && (expand.length === 0 || expand.some((k) => key === k || key.startsWith(`${k}.`)));
    const chars = [...value];
    const shown = expanded || chars.length <= METADATA_VALUE_LIMIT ? value : chars.slice(0, METADATA_VALUE_LIMIT).join('');
    out[key] = shown === '' ? '' : parseJsonPrioritised(shown);
  }
  return out;
}

/** One observation in the v2 wire format for the requested field groups. */
export function renderV2Observation(o: StoredObservation, groups: Set<V2FieldGroup>, expand: string[] | null): Record<string, unknown> {
  const item: Record<string, unknown> = {
    id: o.id,
    traceId: o.traceId,
    startTime: o.startTime,
    endTime: o.endTime,
    projectId: o.projectId,
    parentObservationId: o.parentObservationId,
    type: o.type,
  };
  if (groups.has('basic')) {
    Object.assign(item, {
      name: o.name,
      level: o.level,
      statusMessage: o.statusMessage,
      version: o.version,
      environment: o.environment,
      bookmarked: false,
      public: o.public,
      userId: o.userId,
      sessionId: o.sessionId,
      isRootObservation: o.isRootObservation,
    });
  }
  if (groups.has('time')) {
    Object.assign(item, { completionStartTime: o.completionStartTime, createdAt: o.createdAt, updatedAt: o.updatedAt });
  }
  if (groups.has('io')) Object.assign(item, { input: o.input, output: o.output });
  if (groups.has('metadata')) item.metadata = renderMetadata(o, expand);
  if (groups.has('model')) {
    // The wire key is `model` (convertObservationPartial maps provided_model_name → model),
    // although the Fern docs name it providedModelName.
    Object.assign(item, { model: o.model, internalModelId: null, modelParameters: o.modelParameters });
  }
  if (groups.has('usage')) {
    const u = reduceDetails(o.usageDetails);
    const c = reduceDetails(o.costDetails);
    Object.assign(item, {
      usageDetails: o.usageDetails,
      inputUsage: u.input ?? 0,
      outputUsage: u.output ?? 0,
      totalUsage: u.total,
      costDetails: o.costDetails,
      inputCost: c.input,
      outputCost: c.output,
      totalCost: c.total,
      usagePricingTierId: null,
      usagePricingTierName: null,
    });
  }
  if (groups.has('prompt')) {
    Object.assign(item, { promptId: null, promptName: o.promptName, promptVersion: o.promptVersion });
  }
  // latency / timeToFirstToken are computed from core columns and always present.
  item.latency = latencySeconds(o);
  item.timeToFirstToken = timeToFirstTokenSeconds(o);
  // Enrichment fields: always present, null unless the model group matched a model (never, here).
  Object.assign(item, { modelId: null, inputPrice: null, outputPrice: null, totalPrice: null });
  if (groups.has('trace_context')) {
    Object.assign(item, { traceName: traceNameOf(o), tags: o.tags, release: o.release });
  }
  return item;
}

/** Runs a parsed request over the visible observations. */
export function listV2(observations: StoredObservation[], req: V2Request): { data: Record<string, unknown>[]; meta: { cursor?: string } } {
  let rows = observations.filter((o) => req.predicates.every((p) => p(o)));
  if (req.cursor) {
    const c = req.cursor;
    rows = rows.filter((o) => afterCursor(o, c));
  }
  rows.sort(compareDesc);
  const page = rows.slice(0, req.limit);
  const hasMore = rows.length > req.limit;
  const groups = new Set<V2FieldGroup>(req.fields ?? ['core', 'basic']);
  const data = page.map((o) => renderV2Observation(o, groups, req.expandMetadata));
  const last = page[page.length - 1];
  const meta: { cursor?: string } =
    hasMore && last ? { cursor: encodeCursor({ lastStartTimeTo: last.startTime, lastTraceId: last.traceId, lastId: last.id }) } : {};
  return { data, meta };
}
