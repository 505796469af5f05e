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
    const rows = await this.readTargeted(conn, filter, fields, options.budget, options.sleepBetweenGetsMs ?? 0, options.known?.size ?? 0, options.maxTraces);
    const known = options.known;
    return assembleV2Traces(ofRelease(rows, filter.release), options).filter((t) => !known?.has(t.id) && matchesAny(t.tags, filter.anyTags));
  }

  async findTraceHeaders(conn: LangfuseConnection, filter: TraceFilter, options: Pick<ReadOptions, 'budget'>): Promise<TraceHeader[]> {
    const rows = ofRelease(await this.readTargeted(conn, filter, 'core,basic,trace_context', options.budget, 0, 0), filter.release);
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
  private async readTargeted(conn: LangfuseConnection, filter: TraceFilter, fields: string, budget: ReadBudget, sleepMs: number, knownCount: number, maxTraces?: number): Promise<V2Observation[]> {
    const anyTags = filter.anyTags;
    if (!anyTags || anyTags.length <= V2_ANY_TAGS_PER_CALL) return this.readAll(conn, filter, fields, budget, sleepMs, maxTraces);
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

  /**
   * Every page, or with `maxTraces` until the newest that many traces (of the
   * release asked for) are whole: pages come newest observation first, and a
   * trace's root starts before its children, so a trace whose root row was
   * seen has all its observations.
   */
  private async readAll(conn: LangfuseConnection, filter: TraceFilter, fields: string, budget: ReadBudget, sleepMs: number, maxTraces?: number): Promise<V2Observation[]> {
    const rows: V2Observation[] = [];
    const newest = maxTraces !== undefined ? new NewestTraces(maxTraces, filter.release) : undefined;
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
      if (newest?.add(data)) return newest.only(rows);
      cursor = answer?.meta?.cursor ?? undefined;
      if (!cursor || data.length === 0 || seenCursors.has(cursor)) return newest ? newest.only(rows) : rows;
      seenCursors.add(cursor);
    }
  }
}

/**
 * The `filter` JSON: trace tags (all of / any of) and trace name, which have
 * no plain query parameter. The observations API has no release column (a
 * condition on it is a 400): release is matched on the rows' trace_context.
 */
export function v2Conditions(filter: TraceFilter): FilterCondition[] {
  const conditions: FilterCondition[] = [];
  if (filter.tags.length > 0) conditions.push({ type: 'arrayOptions', column: 'traceTags', operator: 'all of', value: filter.tags });
  if (filter.anyTags && filter.anyTags.length > 0) conditions.push({ type: 'arrayOptions', column: 'traceTags', operator: 'any of', value: filter.anyTags });
  if (filter.name !== undefined) conditions.push({ type: 'string', column: 'traceName', operator: '=', value: filter.name });
  return conditions;
}

/** The rows of traces of `release` (any of a trace's rows carrying it counts for the trace); all rows without a release filter. */
function ofRelease(rows: V2Observation[], release: string | undefined): V2Observation[] {
  if (release === undefined) return rows;
  const traces = new Set<string>();
  for (const row of rows) if (row.traceId && row.release === release) traces.add(row.traceId);
  return rows.filter((row) => row.traceId && traces.has(row.traceId));
}

/** Which traces are the newest `max` (of a release) in pages read newest first, and whether they are whole yet. */
class NewestTraces {
  /** Trace ids in the order first seen (newest first), with whether their root row was seen. */
  private readonly seen = new Map<string, { root: boolean; release: boolean }>();

  constructor(
    private readonly max: number,
    private readonly release: string | undefined,
  ) {}

  /** Takes a page; true once the newest `max` traces are known and whole. */
  add(page: V2Observation[]): boolean {
    for (const row of page) {
      if (!row.traceId) continue;
      const trace = this.seen.get(row.traceId) ?? { root: false, release: this.release === undefined };
      if (row.isRootObservation === true || !row.parentObservationId) trace.root = true;
      if (this.release !== undefined && row.release === this.release) trace.release = true;
      this.seen.set(row.traceId, trace);
    }
    const chosen = this.chosen();
    return chosen.length === this.max && chosen.every((id) => this.seen.get(id)!.root);
  }

  /** The rows of the chosen traces. */
  only(rows: V2Observation[]): V2Observation[] {
    const chosen = new Set(this.chosen());
    return rows.filter((row) => row.traceId && chosen.has(row.traceId));
  }

  private chosen(): string[] {
    const ids: string[] = [];
    for (const [id, trace] of this.seen) {
      // A trace whose root was seen without the release is not of it; one still open may be.
      if (this.release !== undefined && !trace.release && trace.root) continue;
      ids.push(id);
      if (ids.length === this.max) break;
    }
    return ids;
  }
}

export function matchesAny(tags: readonly string[], anyTags: readonly string[] | undefined): boolean {
  if (!anyTags) return true;
  return tags.some((t) => anyTags.includes(t));
}
