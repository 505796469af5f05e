/**
 * In-memory storage of ingested spans per project, plus the legacy trace derivation
 * (Langfuse's trace-create event merge, worker IngestionService.mergeTraceRecords /
 * overwriteObject): timestamp + environment from the first event, later events overwrite
 * fields they define, metadata deep-merges, tags are the sorted union, input/output keep
 * the last truthy value.
 */
import { deepMerge, renderLegacyIo } from './http-util';
import type { StoredObservation, StoredTrace } from './types';

interface TraceBucket {
  observations: Map<string, StoredObservation>;
  full?: StoredTrace;
}

export class ProjectStore {
  private readonly traces = new Map<string, TraceBucket>();

  constructor(readonly projectId: string) {}

  upsert(observation: StoredObservation): void {
    let bucket = this.traces.get(observation.traceId);
    if (!bucket) {
      bucket = { observations: new Map() };
      this.traces.set(observation.traceId, bucket);
    }
    const previous = bucket.observations.get(observation.id);
    if (previous) observation.createdAt = previous.createdAt;
    bucket.observations.set(observation.id, observation);
    bucket.full = undefined;
  }

  clear(): void {
    this.traces.clear();
  }

  traceIds(): string[] {
    return [...this.traces.keys()];
  }

  /** Full trace (all ingested spans), cached until the next upsert. */
  fullTrace(traceId: string): StoredTrace | undefined {
    const bucket = this.traces.get(traceId);
    if (!bucket) return undefined;
    if (!bucket.full) bucket.full = deriveTrace(this.projectId, traceId, [...bucket.observations.values()]);
    return bucket.full;
  }

  /** Trace as visible at `visibleBefore` (spans ingested after are ignored); undefined if none visible. */
  visibleTrace(traceId: string, visibleBefore: number): StoredTrace | undefined {
    const bucket = this.traces.get(traceId);
    if (!bucket) return undefined;
    const all = [...bucket.observations.values()];
    const visible = all.filter((o) => o.ingestedAt <= visibleBefore);
    if (visible.length === 0) return undefined;
    if (visible.length === all.length) return this.fullTrace(traceId);
    return deriveTrace(this.projectId, traceId, visible);
  }

  allTraces(): StoredTrace[] {
    return this.traceIds()
      .map((id) => this.fullTrace(id))
      .filter((t): t is StoredTrace => t !== undefined);
  }

  allObservations(): StoredObservation[] {
    const out: StoredObservation[] = [];
    for (const bucket of this.traces.values()) out.push(...bucket.observations.values());
    return out;
  }
}

export function deriveTrace(projectId: string, traceId: string, observations: StoredObservation[]): StoredTrace {
  // Langfuse sorts trace events by their timestamp (= span start), create events first.
  const events = [...observations].sort(
    (a, b) => Date.parse(a.trace.timestamp) - Date.parse(b.trace.timestamp) || a.seq - b.seq,
  );
  const root = events.find((o) => o.trace.kind === 'root');
  let name: string | null = null;
  let version: string | null = null;
  let release: string | null = null;
  let userId: string | null = null;
  let sessionId: string | null = null;
  let isPublic = false;
  let metadata: Record<string, unknown> = {};
  const tags = new Set<string>();
  let input: string | null = null;
  let output: string | null = null;
  for (const o of events) {
    const t = o.trace;
    if (t.name !== undefined) name = t.name;
    if (t.version !== undefined) version = t.version === null ? null : String(t.version);
    if (t.release !== undefined) release = t.release === null ? null : String(t.release);
    if (t.userId !== undefined) userId = t.userId;
    if (t.sessionId !== undefined) sessionId = t.sessionId;
    if (t.public !== undefined) isPublic = t.public;
    if (t.metadata && Object.keys(t.metadata).length > 0) metadata = deepMerge(metadata, t.metadata);
    for (const tag of t.tags ?? []) tags.add(tag);
    if (t.input) input = t.input;
    if (t.output) output = t.output;
  }
  // Timestamp/environment are immutable after the first trace event; Langfuse's first event is
  // usually the root's (same batch) — the fake prefers the root span's values when there is one.
  const first = root ?? events[0];
  const ingested = observations.map((o) => o.ingestedAt);
  return {
    id: traceId,
    projectId,
    timestamp: first.trace.timestamp,
    name,
    input: renderLegacyIo(input),
    output: renderLegacyIo(output),
    sessionId,
    userId,
    release,
    version,
    environment: first.trace.environment,
    tags: [...tags].sort(),
    metadata,
    public: isPublic,
    observations: [...observations].sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime) || a.seq - b.seq),
    firstIngestedAt: Math.min(...ingested),
    lastIngestedAt: Math.max(...ingested),
  };
}
