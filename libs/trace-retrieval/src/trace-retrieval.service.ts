import { Injectable, Logger } from '@nestjs/common';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { RolloutTracker } from '@app/completeness-tracking';
import { CompletenessResult, newestId, readUntilComplete, sample } from './completeness';
import { LEGACY_MAX_PAGE_SIZE } from './legacy-langfuse.reader';
import { LangfuseConnection, LangfuseConnections } from './langfuse-connections';
import { LangfuseReader, ReadOptions } from './langfuse.reader';
import { ReadBudget } from './read-budget';
import { newestFirst } from './trace-mapping';
import { FAILED_TAG_PREFIXES, INSERTION_TAG_PREFIX, ROLLOUT_TAG_PREFIX, RolloutRef, tagValues, TRAIL_TAG_PREFIX } from '@app/routing-metadata';
import { TraceFilter, TracesResponse, TraceView } from './trace.model';
import { TraceRetrievalSettings } from './trace-retrieval.settings';
import { rolloutIdsOf, TracesQuery } from './traces-query';

export interface ReadTracesRequest {
  query: TracesQuery;
  /** undefined = the default project */
  projectId?: string;
  pointwise: boolean;
  /** The trail routes: read this trail (its `trail_id:` tag) instead of the query's rollouts. */
  trailId?: string;
  /** Aborts the Langfuse reads (client gone). */
  signal?: AbortSignal;
}

export interface VisibleCount {
  visible: number;
  expected: number;
}

/** What a read is complete against: a rollout, or a trail (the trail routes). */
interface TrackedGroup {
  ref: RolloutRef;
  /** The tag its traces carry (`rollout_id:R`, `trail_id:T`). */
  tag: string;
  /** For messages: `rollout "R"`. */
  label: string;
}

interface GroupRead {
  group: TrackedGroup;
  traces: TraceView[];
  result: CompletenessResult;
  newest?: string;
}

/**
 * Reads traces from Langfuse. With rollouts named (`rollout_id:` tags) or a
 * trail, each one's traces come back only when every completion the gateway
 * recorded for it is visible (full), or its newest one (pointwise); without,
 * a plain tag-filtered read of the newest `limit` traces (pointwise: the
 * newest one), as the original serves it. Newest first either way.
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
    const rolloutIds = request.trailId === undefined ? rolloutIdsOf(query) : [];
    const conn = this.connections.forProject(request.projectId);
    const groups: TrackedGroup[] =
      request.trailId !== undefined
        ? [{ ref: { projectId: conn.projectId, rolloutId: request.trailId, trail: true }, tag: `${TRAIL_TAG_PREFIX}${request.trailId}`, label: `trail "${request.trailId}"` }]
        : rolloutIds.map((rolloutId) => ({ ref: { projectId: conn.projectId, rolloutId }, tag: `${ROLLOUT_TAG_PREFIX}${rolloutId}`, label: `rollout "${rolloutId}"` }));
    const budget = new ReadBudget(this.config.LANGFUSE_READ_BUDGET_MS, request.signal);
    try {
      let traces: TraceView[];
      if (groups.length === 0) {
        traces = await this.readByTags(conn, query, pointwise, budget);
      } else {
        // Every group's recorded ids first: an unknown rollout is a 404 before any Langfuse read.
        const expected = await Promise.all(groups.map((g) => this.expectedIds(g)));
        const reads: GroupRead[] = [];
        for (const [i, group] of groups.entries()) reads.push(await this.readGroup(conn, group, expected[i], query, pointwise, budget));
        const incompleteReads = reads.filter((r) => r.result.missing.length > 0);
        if (incompleteReads.length > 0) throw incomplete(query, incompleteReads);
        traces = reads.flatMap((r) => r.traces);
        if (!pointwise && query.sample_size !== undefined && traces.length > query.sample_size) traces = sample(traces, query.sample_size);
      }
      newestFirst(traces);
      return { project_id: conn.projectId, total_traces: traces.length, traces };
    } finally {
      budget.dispose();
    }
  }

  /** One rollout (or trail): complete, or its newest completion; the result says what is missing. */
  private async readGroup(conn: LangfuseConnection, group: TrackedGroup, expected: string[], query: TracesQuery, pointwise: boolean, budget: ReadBudget): Promise<GroupRead> {
    const newest = pointwise ? newestId(expected) : undefined;
    const filter = toFilter(query);
    // The other rollouts' tags are theirs: this read carries its own.
    filter.tags = [...filter.tags.filter((t) => !t.startsWith(ROLLOUT_TAG_PREFIX)), group.tag];
    if (newest) filter.tags.push(`${INSERTION_TAG_PREFIX}${newest}`);
    const started = Date.now();
    const result = await readUntilComplete(this.reader, {
      conn,
      filter,
      expected: newest ? [newest] : expected,
      // max_retries counts every read, as in the original: the first, then the re-queries.
      maxRetries: Math.max(1, query.max_retries) - 1,
      backoffMs: this.config.LANGFUSE_COMPLETENESS_BACKOFF_MS,
      read: this.readOptions(query, budget),
    });
    const summary = `${group.label}, project ${conn.projectId}: found ${result.found} of ${result.expected} expected after ${result.rounds + 1} read(s), ${Date.now() - started} ms`;
    if (result.missing.length > 0) {
      this.logger.warn(`Incomplete ${pointwise ? 'pointwise ' : ''}traces: ${summary}`);
      return { group, traces: [], result, newest };
    }
    this.logger.log(`${pointwise ? 'Pointwise' : 'Complete'} traces: ${summary}`);
    const traces = newest ? newestFirst(result.traces.filter((t) => tagValues(t.tags, INSERTION_TAG_PREFIX).includes(newest))).slice(0, 1) : result.traces;
    return { group, traces, result, newest };
  }

  /** No rollout named: the newest `limit` traces carrying the tags (pointwise: the newest one), no completeness check. */
  private async readByTags(conn: LangfuseConnection, query: TracesQuery, pointwise: boolean, budget: ReadBudget): Promise<TraceView[]> {
    const started = Date.now();
    const want = pointwise ? 1 : query.limit;
    const filter = toFilter(query);
    let traces: TraceView[] = [];
    // A call the client saw fail is part of nothing it was tagged for: left out, and more are read in its place.
    for (let maxTraces = want; ; maxTraces *= 2) {
      const found = await this.reader.findTraces(conn, filter, { ...this.readOptions(query, budget), known: new Set(), maxTraces });
      traces = found.filter((t) => !t.tags.some((tag) => FAILED_TAG_PREFIXES.some((p) => tag.startsWith(p))));
      if (traces.length >= want || found.length < maxTraces || maxTraces >= want * 8) break;
    }
    traces = newestFirst(traces).slice(0, want);
    if (!pointwise && query.sample_size !== undefined && traces.length > query.sample_size) traces = sample(traces, query.sample_size);
    this.logger.log(`Traces by tags ${query.tags.join(', ')}, project ${conn.projectId}: ${traces.length} (no rollout named: no completeness check), ${Date.now() - started} ms`);
    return traces;
  }

  private readOptions(query: TracesQuery, budget: ReadBudget): Omit<ReadOptions, 'known'> {
    return {
      budget,
      // `fields` never narrows the answer: every trace in full.
      io: true,
      observations: true,
      legacyPageSize: Math.min(query.limit, LEGACY_MAX_PAGE_SIZE),
      sleepBetweenGetsMs: query.sleep_between_gets !== undefined ? Math.round(query.sleep_between_gets * 1000) : undefined,
    };
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

  private async expectedIds(group: TrackedGroup): Promise<string[]> {
    let ids: string[];
    try {
      ids = await this.tracker.expectedIds(group.ref);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw new GatewayError(GatewayErrorCode.TrackingUnavailable, `Could not read the recorded completions of ${group.label} from the completeness store: ${(err as Error).message}.`);
    }
    if (ids.length === 0) {
      const how = group.ref.trail
        ? "Check the trail id, and that the trail's chat calls went through this gateway's trails/<trail_id>/chat/completions route."
        : "Check the rollout_id tag, and that the rollout's chat calls went through this gateway with rollout metadata in the URL.";
      throw new GatewayError(
        GatewayErrorCode.UnknownRollout,
        // "No traces found" / "Incomplete traces" are what eval-protocol's tracing adapter
        // looks for in a 404's detail before it retries; keep them at the start.
        `No traces found: no completions were recorded for ${group.label}. ${how}`,
        group.ref.trail ? { trail_id: group.ref.rolloutId } : { rollout_id: group.ref.rolloutId },
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

function incomplete(query: TracesQuery, reads: GroupRead[]): GatewayError {
  const narrowed = query.tags.filter((t) => !t.startsWith(ROLLOUT_TAG_PREFIX)).length > 0 || Object.keys(toFilter(query)).length > 1;
  const describe = ({ group, result, newest }: GroupRead) =>
    newest
      ? `the newest completion of ${group.label} (insertion_id ${newest}) is not visible in Langfuse yet: found ${result.found} of ${result.expected} expected`
      : `found ${result.found} of ${result.expected} expected completions of ${group.label} in Langfuse`;
  const [first] = reads;
  const what = `Incomplete traces: ${reads.map(describe).join('; ')}`;
  const why = [
    `after ${first.result.rounds + 1} read(s) (max_retries=${query.max_retries}: reads in all)`,
    reads.some((r) => r.result.stoppedByBudget) ? 'stopped early because the next wait would overrun LANGFUSE_READ_BUDGET_MS' : '',
    narrowed ? "the query's other tags or filters may exclude some of the completions" : '',
  ].filter(Boolean);
  const details: Record<string, unknown> = { found: first.result.found, expected: first.result.expected, missing_insertion_ids: first.result.missing.slice(0, 20) };
  if (first.group.ref.trail) details.trail_id = first.group.ref.rolloutId;
  else details.rollout_id = first.group.ref.rolloutId;
  if (reads.length > 1) details.incomplete = reads.map((r) => ({ [r.group.ref.trail ? 'trail_id' : 'rollout_id']: r.group.ref.rolloutId, found: r.result.found, expected: r.result.expected }));
  return new GatewayError(GatewayErrorCode.IncompleteTraces, `${what} ${why.join('; ')}. Retry later, or with a higher max_retries.`, details);
}
