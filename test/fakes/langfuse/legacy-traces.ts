/**
 * Legacy (v3) trace read endpoints
 * GET /api/public/traces         (web/src/pages/api/public/traces/index.ts, types/traces.ts GetTracesV1Query)
 * GET /api/public/traces/{id}    (web/src/pages/api/public/traces/[traceId].ts)
 * Response shapes: fern commons.yml TraceWithDetails / TraceWithFullDetails / ObservationsView,
 * plus the extra fields the server really sends (projectId, bookmarked, createdAt, updatedAt, externalId).
 */
import { deriveFilters, parseFilterParam, type ColumnDef, type SimpleFilter } from './filters';
import {
  invalidRequest,
  isoDateTimeParam,
  legacyMetadata,
  multi,
  renderLegacyIo,
  single,
  zodLike,
  type Query,
} from './http-util';
import { latencySeconds, timeToFirstTokenSeconds } from './v2-observations';
import type { StoredObservation, StoredTrace } from './types';

export const TRACE_FIELD_GROUPS = ['core', 'io', 'scores', 'observations', 'metrics'] as const;
type TraceFieldGroup = (typeof TRACE_FIELD_GROUPS)[number];

const ORDER_BY_COLUMNS = ['id', 'timestamp', 'name', 'userId', 'release', 'version', 'public', 'bookmarked', 'sessionId'];

export const LEGACY_TRACE_COLUMNS: Record<string, ColumnDef<StoredTrace>> = {
  id: { kind: 'string', field: 'id', get: (t) => t.id },
  name: { kind: 'string', field: 'name', get: (t) => t.name },
  timestamp: { kind: 'datetime', field: 'timestamp', get: (t) => t.timestamp },
  userId: { kind: 'string', field: 'user_id', get: (t) => t.userId },
  sessionId: { kind: 'string', field: 'session_id', get: (t) => t.sessionId },
  environment: { kind: 'string', field: 'environment', get: (t) => t.environment },
  version: { kind: 'string', field: 'version', get: (t) => t.version },
  release: { kind: 'string', field: 'release', get: (t) => t.release },
  tags: { kind: 'array', field: 'tags', get: (t) => t.tags },
  traceTags: { kind: 'array', field: 'tags', get: (t) => t.tags },
  bookmarked: { kind: 'boolean', field: 'bookmarked', get: () => false },
  metadata: { kind: 'object', field: 'metadata', get: (t) => legacyMetadata(t.metadata) },
  latency: { kind: 'number', field: 'latency', get: (t) => traceLatency(t.observations) },
  totalCost: { kind: 'number', field: 'total_cost', get: (t) => traceTotalCost(t.observations) },
};

function parseFields(query: Query): Set<TraceFieldGroup> {
  const raw = single(query, 'fields');
  const parsed = raw
    ? (raw.split(',').map((f) => f.trim()).filter((f) => (TRACE_FIELD_GROUPS as readonly string[]).includes(f)) as TraceFieldGroup[])
    : [];
  // Empty after filtering unknown names → null → all groups.
  return new Set(parsed.length > 0 ? parsed : TRACE_FIELD_GROUPS);
}

function positiveInt(query: Query, name: string, def: number, max?: number): number {
  const raw = single(query, name);
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw zodLike([name], 'Expected integer, received float', 'invalid_type');
  if (n < 1) throw zodLike([name], `Number must be greater than${name === 'page' ? '' : ' or equal to'} ${name === 'page' ? 0 : 1}`, 'too_small');
  if (max !== undefined && n > max) throw zodLike([name], `Number must be less than or equal to ${max}`, 'too_big');
  return n;
}

function traceLatency(observations: StoredObservation[]): number {
  if (observations.length === 0) return 0;
  const starts = observations.map((o) => Date.parse(o.startTime));
  const ends = observations.map((o) => Date.parse(o.endTime));
  return (Math.max(...ends) - Math.min(...starts)) / 1000;
}

function costTotal(o: StoredObservation): number {
  return Number(o.costDetails.total ?? 0);
}

function traceTotalCost(observations: StoredObservation[]): number {
  return observations.reduce((acc, o) => acc + costTotal(o), 0);
}

function sumKeys(details: Record<string, number>, part: string): number | null {
  let sum: number | null = null;
  for (const [k, v] of Object.entries(details)) if (k.includes(part)) sum = (sum ?? 0) + v;
  return sum;
}

/** transformDbToApiObservation (APIObservation / fern ObservationsView). */
export function renderLegacyObservation(o: StoredObservation, prices: number | null): Record<string, unknown> {
  const promptTokens = sumKeys(o.usageDetails, 'input') ?? 0;
  const completionTokens = sumKeys(o.usageDetails, 'output') ?? 0;
  const totalTokens = Number(o.usageDetails.total ?? 0);
  return {
    id: o.id,
    projectId: o.projectId,
    traceId: o.traceId,
    parentObservationId: o.parentObservationId,
    name: o.name,
    type: o.type,
    environment: o.environment,
    startTime: o.startTime,
    endTime: o.endTime,
    version: o.version,
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
    input: renderLegacyIo(o.input),
    output: renderLegacyIo(o.output),
    metadata: legacyMetadata(o.metadata),
    level: o.level,
    statusMessage: o.statusMessage,
    model: o.model,
    modelParameters: o.modelParameters,
    completionStartTime: o.completionStartTime,
    promptId: null,
    promptName: o.promptName,
    promptVersion: o.promptVersion,
    usageDetails: o.usageDetails,
    costDetails: o.costDetails,
    usage: { unit: 'TOKENS', input: promptTokens, output: completionTokens, total: totalTokens },
    unit: 'TOKENS',
    promptTokens,
    completionTokens,
    totalTokens,
    usagePricingTierName: null,
    usagePricingTierId: null,
    modelId: null,
    inputPrice: prices,
    outputPrice: prices,
    totalPrice: prices,
    calculatedInputCost: sumKeys(o.costDetails, 'input'),
    calculatedOutputCost: sumKeys(o.costDetails, 'output'),
    calculatedTotalCost: costTotal(o),
    latency: latencySeconds(o),
    timeToFirstToken: timeToFirstTokenSeconds(o),
  };
}

function renderTraceCore(t: StoredTrace, includeIo: boolean): Record<string, unknown> {
  const created = new Date(t.firstIngestedAt).toISOString();
  const updated = new Date(t.lastIngestedAt).toISOString();
  return {
    id: t.id,
    projectId: t.projectId,
    timestamp: t.timestamp,
    name: t.name,
    environment: t.environment,
    sessionId: t.sessionId,
    userId: t.userId,
    release: t.release,
    version: t.version,
    bookmarked: false,
    public: t.public,
    tags: t.tags,
    createdAt: created,
    updatedAt: updated,
    input: includeIo ? t.input : null,
    output: includeIo ? t.output : null,
    metadata: includeIo ? legacyMetadata(t.metadata) : {},
    externalId: null,
    htmlPath: `/project/${t.projectId}/traces/${t.id}`,
  };
}

/** GET /api/public/traces */
export function listTraces(traces: StoredTrace[], query: Query): Record<string, unknown> {
  const page = positiveInt(query, 'page', 1);
  const limit = positiveInt(query, 'limit', 50, 100);
  const fields = parseFields(query);

  let orderColumn = 'timestamp';
  let orderDir: 'ASC' | 'DESC' = 'DESC';
  const rawOrder = single(query, 'orderBy');
  if (rawOrder) {
    const [column, order] = rawOrder.split('.');
    const dir = order?.toUpperCase();
    if (dir !== 'ASC' && dir !== 'DESC') throw zodLike(['orderBy', 'order'], "Invalid enum value. Expected 'ASC' | 'DESC'", 'invalid_value');
    if (!ORDER_BY_COLUMNS.includes(column)) throw invalidRequest(`Invalid orderBy column: ${column}`);
    orderColumn = column;
    orderDir = dir;
  }

  const simple: SimpleFilter<StoredTrace>[] = [];
  for (const [param, field, get] of [
    ['userId', 'user_id', (t: StoredTrace) => t.userId],
    ['name', 'name', (t: StoredTrace) => t.name],
    ['sessionId', 'session_id', (t: StoredTrace) => t.sessionId],
    ['version', 'version', (t: StoredTrace) => t.version],
    ['release', 'release', (t: StoredTrace) => t.release],
  ] as const) {
    const v = single(query, param);
    if (v !== undefined) simple.push({ field, predicate: (t) => (get(t) ?? '') === v });
  }
  const tags = multi(query, 'tags');
  if (tags !== undefined) {
    // ArrayOptionsFilter "all of": repeated params are used as-is, a single value is comma-split.
    const wanted = Array.isArray(tags) ? tags : tags.split(',');
    simple.push({ field: 'tags', predicate: (t) => wanted.every((w) => t.tags.includes(w)) });
  }
  const env = multi(query, 'environment');
  if (env !== undefined) {
    const envs = new Set(Array.isArray(env) ? env : env.split(','));
    simple.push({ field: 'environment', predicate: (t) => envs.has(t.environment) });
  }
  const from = isoDateTimeParam(query, 'fromTimestamp');
  if (from !== undefined) simple.push({ field: 'timestamp', predicate: (t) => Date.parse(t.timestamp) >= from });
  const to = isoDateTimeParam(query, 'toTimestamp');
  if (to !== undefined) simple.push({ field: 'timestamp', predicate: (t) => Date.parse(t.timestamp) < to });

  const advanced = parseFilterParam(single(query, 'filter'), false);
  const predicates = deriveFilters(simple, advanced, LEGACY_TRACE_COLUMNS);
  const matching = traces.filter((t) => predicates.every((p) => p(t)));

  const key = (t: StoredTrace): string | number | boolean => {
    switch (orderColumn) {
      case 'timestamp':
        return Date.parse(t.timestamp);
      case 'public':
        return t.public;
      case 'bookmarked':
        return false;
      default:
        return (t[orderColumn as keyof StoredTrace] as string | null) ?? '';
    }
  };
  matching.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    const c = ka < kb ? -1 : ka > kb ? 1 : 0;
    return orderDir === 'ASC' ? c : -c;
  });

  const totalItems = matching.length;
  const data = matching.slice((page - 1) * limit, page * limit).map((t) => ({
    ...renderTraceCore(t, fields.has('io')),
    observations: fields.has('observations') ? t.observations.map((o) => o.id) : [],
    scores: [],
    totalCost: fields.has('metrics') ? traceTotalCost(t.observations) : -1,
    latency: fields.has('metrics') ? traceLatency(t.observations) : -1,
  }));
  return { data, meta: { page, limit, totalItems, totalPages: Math.ceil(totalItems / limit) } };
}

/** GET /api/public/traces/{traceId} */
export function getTrace(trace: StoredTrace, query: Query): Record<string, unknown> {
  const fields = parseFields(query);
  const observations = fields.has('observations') ? trace.observations.map((o) => renderLegacyObservation(o, 0)) : [];
  return {
    ...renderTraceCore(trace, fields.has('io')),
    scores: [],
    latency: fields.has('metrics') ? traceLatency(trace.observations) : -1,
    observations,
    totalCost: fields.has('metrics') ? traceTotalCost(trace.observations) : -1,
  };
}
