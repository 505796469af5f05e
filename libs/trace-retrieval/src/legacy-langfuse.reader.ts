import { Injectable } from '@nestjs/common';
import { LangfuseConnection, LangfuseConnections, LangfuseNotFound } from './langfuse-connections';
import { LangfuseReader, ReadOptions } from './langfuse.reader';
import { ReadBudget } from './read-budget';
import { fromLegacyTrace, LegacyTrace } from './trace-mapping';
import { TraceFilter, TraceHeader, TraceView } from './trace.model';
import { TraceRetrievalSettings } from './trace-retrieval.settings';
import { matchesAny } from './v2-langfuse.reader';

const LIST = 'GET /api/public/traces';
const DETAIL = 'GET /api/public/traces/{id}';
/** The legacy list endpoint's largest page. */
export const LEGACY_MAX_PAGE_SIZE = 100;
const MAX_PAGES = 10_000;

/**
 * Langfuse servers without the v2 API (self-hosted v3): the trace list
 * (tags = all of, ≤ 100 per page) for ids and tags, then one detail GET per
 * trace for its observations, LANGFUSE_READ_CONCURRENCY at a time inside the
 * project's rate budget. The list has no any-of filter, so missing insertion
 * ids are targeted one list call each, or the tag set is re-listed when that
 * is cheaper.
 */
@Injectable()
export class LegacyLangfuseReader extends LangfuseReader {
  constructor(
    private readonly connections: LangfuseConnections,
    private readonly config: TraceRetrievalSettings,
  ) {
    super();
  }

  async findTraces(conn: LangfuseConnection, filter: TraceFilter, options: ReadOptions): Promise<TraceView[]> {
    // Without observations the list answer already holds everything (io included on request): no detail GETs.
    const listFields = !options.observations && options.io ? 'core,io' : 'core';
    const listed =
      options.maxTraces !== undefined && !filter.anyTags
        ? await this.listAll(conn, filter, listFields, options.budget, options.legacyPageSize, options.maxTraces)
        : await this.listTargeted(conn, filter, listFields, options.budget, options.legacyPageSize, options.known?.size ?? 0);
    const fresh = listed.filter((t) => !options.known?.has(t.id));
    if (!options.observations) return fresh.map((t) => fromLegacyTrace(t, options));

    const detailFields = options.io ? 'core,io,observations' : 'core,observations';
    const sleepMs = options.sleepBetweenGetsMs ?? 0;
    const details = await mapPool(fresh, this.config.LANGFUSE_READ_CONCURRENCY, async (trace, firstOfWorker) => {
      if (!firstOfWorker) await options.budget.sleep(sleepMs, `sleep_between_gets before the next ${DETAIL}`);
      try {
        return await this.connections.call(conn, options.budget, DETAIL, (o) => conn.api.trace.get(trace.id, { fields: detailFields }, o));
      } catch (err) {
        // Listed but not readable yet (ingestion in progress): its insertion id stays missing for the next round.
        if (err instanceof LangfuseNotFound) return undefined;
        throw err;
      }
    });
    return details.filter((t): t is NonNullable<typeof t> => t !== undefined).map((t) => fromLegacyTrace(t as LegacyTrace, options));
  }

  async findTraceHeaders(conn: LangfuseConnection, filter: TraceFilter, options: Pick<ReadOptions, 'budget' | 'legacyPageSize'>): Promise<TraceHeader[]> {
    const listed = await this.listTargeted(conn, filter, 'core', options.budget, options.legacyPageSize, 0);
    return listed.map((t) => ({ id: t.id, tags: [...(t.tags ?? [])] }));
  }

  private async listTargeted(conn: LangfuseConnection, filter: TraceFilter, fields: string, budget: ReadBudget, pageSize: number, knownCount: number): Promise<LegacyTrace[]> {
    const anyTags = filter.anyTags;
    if (!anyTags) return this.listAll(conn, filter, fields, budget, pageSize);
    // One list call per tag, or the pages of the whole tag set: whichever costs fewer calls.
    const fullListPages = Math.ceil((knownCount + anyTags.length) / Math.min(pageSize, LEGACY_MAX_PAGE_SIZE));
    if (anyTags.length > fullListPages) {
      const all = await this.listAll(conn, { ...filter, anyTags: undefined }, fields, budget, pageSize);
      return all.filter((t) => matchesAny(t.tags ?? [], anyTags));
    }
    const perTag = await mapPool(anyTags, this.config.LANGFUSE_READ_CONCURRENCY, (tag) =>
      this.listAll(conn, { ...filter, tags: [...filter.tags, tag], anyTags: undefined }, fields, budget, pageSize),
    );
    const unique = new Map<string, LegacyTrace>();
    for (const trace of perTag.flat()) unique.set(trace.id, trace);
    return [...unique.values()];
  }

  /** Every page (oldest first), or with `maxTraces` the newest that many (newest first). */
  private async listAll(conn: LangfuseConnection, filter: TraceFilter, fields: string, budget: ReadBudget, pageSize: number, maxTraces?: number): Promise<LegacyTrace[]> {
    const limit = Math.min(Math.max(1, maxTraces !== undefined ? Math.min(pageSize, maxTraces) : pageSize), LEGACY_MAX_PAGE_SIZE);
    const traces = new Map<string, LegacyTrace>();
    for (let page = 1; page <= MAX_PAGES; page++) {
      const answer = await this.connections.call(conn, budget, LIST, (o) =>
        conn.api.trace.list(
          {
            page,
            limit,
            // The server comma-splits a lone `tags` value; repeating a lone tag that holds a comma keeps it whole.
            tags: filter.tags.length === 1 && filter.tags[0].includes(',') ? [filter.tags[0], filter.tags[0]] : filter.tags,
            userId: filter.userId,
            sessionId: filter.sessionId,
            name: filter.name,
            environment: filter.environment,
            version: filter.version,
            release: filter.release,
            fromTimestamp: filter.fromTimestamp,
            toTimestamp: filter.toTimestamp,
            orderBy: maxTraces !== undefined ? 'timestamp.desc' : 'timestamp.asc',
            fields,
          },
          o,
        ),
      );
      const data = (answer?.data ?? []) as LegacyTrace[];
      for (const trace of data) traces.set(trace.id, trace);
      if (maxTraces !== undefined && traces.size >= maxTraces) return [...traces.values()].slice(0, maxTraces);
      const totalPages = answer?.meta?.totalPages;
      if (data.length < limit || (typeof totalPages === 'number' && page >= totalPages)) break;
    }
    return [...traces.values()];
  }
}

/**
 * Runs `fn` over `items` with at most `concurrency` at a time, keeping order.
 * After the first failure no new item starts and the failure is thrown.
 */
export async function mapPool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, firstOfWorker: boolean) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async () => {
    let first = true;
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], first);
      } catch (err) {
        if (!failed) failure = err;
        failed = true;
      }
      first = false;
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, worker));
  if (failed) throw failure;
  return results;
}
