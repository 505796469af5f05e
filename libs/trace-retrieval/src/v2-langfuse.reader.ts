import { Injectable } from '@nestjs/common';
import { LangfuseConnection, LangfuseConnections } from './langfuse-connections';
import { LangfuseReader, ReadOptions } from './langfuse.reader';
import { ReadBudget } from './read-budget';
import { assembleV2Traces, V2Observation } from './trace-mapping';
import { TraceFilter, TraceHeader, TraceView } from './trace.model';
import { TraceRetrievalSettings } from './trace-retrieval.settings';

const WHAT = 'GET /api/public/v2/observations';
/** any-of tag values per call: ~100 insertion tags keep the URL near 6 KB, well under common 8 KB limits. */
export const V2_ANY_TAGS_PER_CALL = 100;

interface FilterCondition {
  type: string;
  column: string;
  operator: string;
  value: unknown;
}

/**
 * Langfuse v4: traces assembled from `GET /api/public/v2/observations`,
 * large cursor pages filtered on the trace tags, so a rollout of a thousand
 * single-observation traces is one or two calls.
 */
@Injectable()
export class V2LangfuseReader extends LangfuseReader {
  constructor(
    private readonly connections: LangfuseConnections,
    private readonly config: TraceRetrievalSettings,
  ) {
    super();
  }

  async findTraces(conn: LangfuseConnection, filter: TraceFilter, options: ReadOptions): Promise<TraceView[]> {
    const fields = ['core', 'basic', 'trace_context', ...(options.io ? ['io', 'metadata'] : [])].join(',');
    const rows = await this.readTargeted(conn, filter, fields, options.budget, options.sleepBetweenGetsMs ?? 0, options.known?.size ?? 0);
    const known = options.known;
    return assembleV2Traces(rows, options).filter((t) => !known?.has(t.id) && matchesAny(t.tags, filter.anyTags));
  }

  async findTraceHeaders(conn: LangfuseConnection, filter: TraceFilter, options: Pick<ReadOptions, 'budget'>): Promise<TraceHeader[]> {
    const rows = await this.readTargeted(conn, filter, 'core,trace_context', options.budget, 0, 0);
    const headers = new Map<string, TraceHeader>();
    for (const row of rows) {
      if (!row.traceId) continue;
      const seen = headers.get(row.traceId);
      if (!seen || (seen.tags.length === 0 && row.tags?.length)) headers.set(row.traceId, { id: row.traceId, tags: [...(row.tags ?? [])] });
    }
    return [...headers.values()].filter((h) => matchesAny(h.tags, filter.anyTags));
  }

  /**
   * any-of tags (the missing insertion ids) go to Langfuse in batches; when
   * there are so many that batching costs more calls than re-reading the whole
   * tag set, the tag set is re-read and narrowed here instead.
   */
  private async readTargeted(conn: LangfuseConnection, filter: TraceFilter, fields: string, budget: ReadBudget, sleepMs: number, knownCount: number): Promise<V2Observation[]> {
    const anyTags = filter.anyTags;
    if (!anyTags || anyTags.length <= V2_ANY_TAGS_PER_CALL) return this.readAll(conn, filter, fields, budget, sleepMs);
    const batches = Math.ceil(anyTags.length / V2_ANY_TAGS_PER_CALL);
    const fullReadPages = Math.ceil((knownCount + anyTags.length) / this.config.LANGFUSE_V2_PAGE_SIZE);
    if (batches > fullReadPages) return this.readAll(conn, { ...filter, anyTags: undefined }, fields, budget, sleepMs);
    const rows: V2Observation[] = [];
    for (let i = 0; i < anyTags.length; i += V2_ANY_TAGS_PER_CALL) {
      if (i > 0) await budget.sleep(sleepMs, `sleep_between_gets before the next ${WHAT} batch`);
      rows.push(...(await this.readAll(conn, { ...filter, anyTags: anyTags.slice(i, i + V2_ANY_TAGS_PER_CALL) }, fields, budget, sleepMs)));
    }
    return rows;
  }

  private async readAll(conn: LangfuseConnection, filter: TraceFilter, fields: string, budget: ReadBudget, sleepMs: number): Promise<V2Observation[]> {
    const rows: V2Observation[] = [];
    const request = {
      fields,
      limit: this.config.LANGFUSE_V2_PAGE_SIZE,
      userId: filter.userId,
      sessionId: filter.sessionId,
      environment: filter.environment,
      version: filter.version,
      fromStartTime: filter.fromTimestamp,
      toStartTime: filter.toTimestamp,
      filter: JSON.stringify(v2Conditions(filter)),
    };
    const seenCursors = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; ; page++) {
      if (page > 0) await budget.sleep(sleepMs, `sleep_between_gets before the next ${WHAT} page`);
      const answer = await this.connections.call(conn, budget, WHAT, (o) => conn.api.observations.getMany({ ...request, cursor }, o));
      const data = (answer?.data ?? []) as V2Observation[];
      rows.push(...data);
      cursor = answer?.meta?.cursor ?? undefined;
      if (!cursor || data.length === 0 || seenCursors.has(cursor)) return rows;
      seenCursors.add(cursor);
    }
  }
}

/** The `filter` JSON: trace tags (all of / any of), trace name and release, which have no plain query parameter. */
export function v2Conditions(filter: TraceFilter): FilterCondition[] {
  const conditions: FilterCondition[] = [];
  if (filter.tags.length > 0) conditions.push({ type: 'arrayOptions', column: 'traceTags', operator: 'all of', value: filter.tags });
  if (filter.anyTags && filter.anyTags.length > 0) conditions.push({ type: 'arrayOptions', column: 'traceTags', operator: 'any of', value: filter.anyTags });
  if (filter.name !== undefined) conditions.push({ type: 'string', column: 'traceName', operator: '=', value: filter.name });
  if (filter.release !== undefined) conditions.push({ type: 'string', column: 'release', operator: '=', value: filter.release });
  return conditions;
}

export function matchesAny(tags: readonly string[], anyTags: readonly string[] | undefined): boolean {
  if (!anyTags) return true;
  return tags.some((t) => anyTags.includes(t));
}
