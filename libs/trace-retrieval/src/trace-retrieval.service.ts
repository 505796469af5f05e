import { Injectable, Logger } from '@nestjs/common';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { RolloutTracker } from '@app/completeness-tracking';
import { newestId, readUntilComplete, sample } from './completeness';
import { LEGACY_MAX_PAGE_SIZE } from './legacy-langfuse.reader';
import { LangfuseConnections } from './langfuse-connections';
import { LangfuseReader } from './langfuse.reader';
import { ReadBudget } from './read-budget';
import { sortTraces } from './trace-mapping';
import { INSERTION_TAG_PREFIX, ROLLOUT_TAG_PREFIX, RolloutRef, tagValues } from '@app/routing-metadata';
import { TraceFilter, TracesResponse } from './trace.model';
import { TraceRetrievalSettings } from './trace-retrieval.settings';
import { fieldGroups, rolloutIdOf, TracesQuery } from './traces-query';

export interface ReadTracesRequest {
  query: TracesQuery;
  /** undefined = the default project */
  projectId?: string;
  pointwise: boolean;
  /** Aborts the Langfuse reads (client gone). */
  signal?: AbortSignal;
}

export interface VisibleCount {
  visible: number;
  expected: number;
}

/**
 * Reads a rollout's traces from Langfuse and returns them only when every
 * completion the gateway recorded for it is visible (full), or the newest
 * one (pointwise).
 */
@Injectable()
export class TraceRetrievalService {
  private readonly logger = new Logger(TraceRetrievalService.name);

  constructor(
    private readonly reader: LangfuseReader,
    private readonly connections: LangfuseConnections,
    private readonly tracker: RolloutTracker,
    private readonly config: TraceRetrievalSettings,
  ) {}

  async readTraces(request: ReadTracesRequest): Promise<TracesResponse> {
    const { query, pointwise } = request;
    const rolloutId = rolloutIdOf(query);
    const conn = this.connections.forProject(request.projectId);
    const expected = await this.expectedIds({ projectId: conn.projectId, rolloutId });
    const newest = pointwise ? newestId(expected) : undefined;
    const filter = toFilter(query);
    if (newest) filter.tags.push(`${INSERTION_TAG_PREFIX}${newest}`);

    const started = Date.now();
    const budget = new ReadBudget(this.config.LANGFUSE_READ_BUDGET_MS, request.signal);
    try {
      const result = await readUntilComplete(this.reader, {
        conn,
        filter,
        expected: newest ? [newest] : expected,
        maxRetries: query.max_retries,
        backoffMs: this.config.LANGFUSE_COMPLETENESS_BACKOFF_MS,
        read: {
          budget,
          ...fieldGroups(query),
          legacyPageSize: Math.min(query.limit, LEGACY_MAX_PAGE_SIZE),
          sleepBetweenGetsMs: query.sleep_between_gets !== undefined ? Math.round(query.sleep_between_gets * 1000) : undefined,
        },
      });
      const summary = `rollout ${rolloutId}, project ${conn.projectId}: found ${result.found} of ${result.expected} expected after ${result.rounds} re-query round(s), ${Date.now() - started} ms`;
      if (result.missing.length > 0) {
        this.logger.warn(`Incomplete ${pointwise ? 'pointwise ' : ''}traces: ${summary}`);
        throw incomplete(rolloutId, query, result, newest);
      }
      this.logger.log(`${pointwise ? 'Pointwise' : 'Complete'} traces: ${summary}`);

      let traces = result.traces;
      if (newest) {
        const holding = traces.filter((t) => tagValues(t.tags, INSERTION_TAG_PREFIX).includes(newest));
        traces = sortTraces(holding).slice(-1);
      } else if (query.sample_size !== undefined && traces.length > query.sample_size) {
        traces = sample(traces, query.sample_size);
      }
      sortTraces(traces);
      return { project_id: conn.projectId, total_traces: traces.length, traces };
    } finally {
      budget.dispose();
    }
  }

  /**
   * How many of `insertionIds` (of rollout `rolloutId`) are visible in the
   * project's Langfuse now, without reading trace bodies.
   */
  async countVisible(projectId: string | undefined, rolloutId: string, insertionIds: string[]): Promise<VisibleCount> {
    const wanted = new Set(insertionIds);
    if (wanted.size === 0) return { visible: 0, expected: 0 };
    const conn = this.connections.forProject(projectId);
    const budget = new ReadBudget(this.config.LANGFUSE_READ_BUDGET_MS);
    try {
      const headers = await this.reader.findTraceHeaders(
        conn,
        { tags: [`${ROLLOUT_TAG_PREFIX}${rolloutId}`], anyTags: [...wanted].map((id) => `${INSERTION_TAG_PREFIX}${id}`) },
        { budget, legacyPageSize: LEGACY_MAX_PAGE_SIZE },
      );
      const visible = new Set<string>();
      for (const header of headers) for (const id of tagValues(header.tags, INSERTION_TAG_PREFIX)) if (wanted.has(id)) visible.add(id);
      return { visible: visible.size, expected: wanted.size };
    } finally {
      budget.dispose();
    }
  }

  private async expectedIds(rollout: RolloutRef): Promise<string[]> {
    const { rolloutId } = rollout;
    let ids: string[];
    try {
      ids = await this.tracker.expectedIds(rollout);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw new GatewayError(
        GatewayErrorCode.TrackingUnavailable,
        `Could not read the recorded completions of rollout "${rolloutId}" from the completeness store: ${(err as Error).message}.`,
      );
    }
    if (ids.length === 0) {
      throw new GatewayError(
        GatewayErrorCode.UnknownRollout,
        // "No traces found" / "Incomplete traces" are what eval-protocol's tracing adapter
        // looks for in a 404's detail before it retries; keep them at the start.
        `No traces found: no completions were recorded for rollout "${rolloutId}". Check the rollout_id tag, and that the rollout's chat calls went through this gateway with rollout metadata in the URL.`,
        { rollout_id: rolloutId },
      );
    }
    return ids;
  }
}

/** The caller's tags and Langfuse filters; hours_back applies when no explicit window is given. */
export function toFilter(query: TracesQuery, now = Date.now()): TraceFilter {
  const filter: TraceFilter = { tags: [...new Set(query.tags)] };
  if (query.user_id !== undefined) filter.userId = query.user_id;
  if (query.session_id !== undefined) filter.sessionId = query.session_id;
  if (query.name !== undefined) filter.name = query.name;
  if (query.environment !== undefined) filter.environment = query.environment;
  if (query.version !== undefined) filter.version = query.version;
  if (query.release !== undefined) filter.release = query.release;
  if (query.from_timestamp !== undefined) filter.fromTimestamp = query.from_timestamp;
  if (query.to_timestamp !== undefined) filter.toTimestamp = query.to_timestamp;
  if (query.hours_back !== undefined && query.from_timestamp === undefined && query.to_timestamp === undefined) {
    filter.fromTimestamp = new Date(now - query.hours_back * 3_600_000).toISOString();
  }
  return filter;
}

function incomplete(
  rolloutId: string,
  query: TracesQuery,
  result: { found: number; expected: number; missing: string[]; rounds: number; stoppedByBudget: boolean },
  newest: string | undefined,
): GatewayError {
  const narrowed = query.tags.length > 1 || Object.keys(toFilter(query)).length > 1;
  const what = newest
    ? `Incomplete traces: the newest completion of rollout "${rolloutId}" (insertion_id ${newest}) is not visible in Langfuse yet: found ${result.found} of ${result.expected} expected`
    : `Incomplete traces: found ${result.found} of ${result.expected} expected completions of rollout "${rolloutId}" in Langfuse`;
  const why = [
    `after ${result.rounds} re-query round(s) (max_retries=${query.max_retries})`,
    result.stoppedByBudget ? 'stopped early because the next wait would overrun LANGFUSE_READ_BUDGET_MS' : '',
    narrowed ? "the query's other tags or filters may exclude some of the rollout's completions" : '',
  ].filter(Boolean);
  return new GatewayError(GatewayErrorCode.IncompleteTraces, `${what} ${why.join('; ')}. Retry later, or with a higher max_retries.`, {
    rollout_id: rolloutId,
    found: result.found,
    expected: result.expected,
    missing_insertion_ids: result.missing.slice(0, 20),
  });
}
