/**
 * Langfuse's two API generations → the one /traces shape. Both paths end in
 * the same normal form (ISO timestamps with milliseconds, stored JSON text
 * parsed as the legacy API parses it, tags as a sorted set, metadata as a
 * flat map of dotted paths, observations by start time), so a trace reads
 * the same whichever generation served it.
 */
import { ObservationView, TraceView } from './trace.model';

/** The fields of a legacy trace (GET /api/public/traces[/{id}]) this gateway reads. */
export interface LegacyTrace {
  id: string;
  timestamp?: string | Date | null;
  name?: string | null;
  userId?: string | null;
  sessionId?: string | null;
  tags?: string[] | null;
  input?: unknown;
  output?: unknown;
  metadata?: unknown;
  /** ids in list answers, objects in detail answers */
  observations?: unknown[] | null;
}

export interface LegacyObservation {
  id: string;
  type?: string | null;
  name?: string | null;
  startTime?: string | Date | null;
  endTime?: string | Date | null;
  input?: unknown;
  output?: unknown;
  parentObservationId?: string | null;
}

/** The fields of a v2 observation (GET /api/public/v2/observations) this gateway reads. */
export interface V2Observation {
  id: string;
  traceId?: string | null;
  startTime?: string | null;
  endTime?: string | null;
  parentObservationId?: string | null;
  type?: string | null;
  isRootObservation?: boolean;
  name?: string | null;
  userId?: string | null;
  sessionId?: string | null;
  input?: unknown;
  output?: unknown;
  metadata?: unknown;
  traceName?: string | null;
  tags?: string[] | null;
  /** The trace's release (trace_context group). */
  release?: string | null;
}

export interface MapOptions {
  io: boolean;
  observations: boolean;
}

export function fromLegacyTrace(trace: LegacyTrace, options: MapOptions): TraceView {
  const observations = options.observations
    ? (trace.observations ?? [])
        .filter((o): o is LegacyObservation => typeof o === 'object' && o !== null && typeof (o as LegacyObservation).id === 'string')
        .map((o) => observationView(o, options.io, legacyIo))
    : [];
  return {
    id: trace.id,
    name: trace.name ?? null,
    user_id: trace.userId ?? null,
    session_id: trace.sessionId ?? null,
    tags: normaliseTags(trace.tags),
    timestamp: iso(trace.timestamp),
    input: options.io ? legacyIo(trace.input) : null,
    output: options.io ? legacyIo(trace.output) : null,
    metadata: options.io ? flatMetadata(trace.metadata, legacyIo) : null,
    observations: sortObservations(observations),
  };
}

/**
 * Groups v2 observations by trace. v2 has no trace object: the trace's
 * name and tags come from the denormalised trace context, everything else
 * (timestamp, input, output, metadata, user, session) from the trace's root
 * observation — which is how Langfuse v4 derives them itself.
 */
export function assembleV2Traces(rows: readonly V2Observation[], options: MapOptions): TraceView[] {
  const byTrace = new Map<string, V2Observation[]>();
  for (const row of rows) {
    if (!row.traceId) continue;
    const list = byTrace.get(row.traceId);
    if (list) {
      if (!list.some((o) => o.id === row.id)) list.push(row);
    } else {
      byTrace.set(row.traceId, [row]);
    }
  }
  const traces: TraceView[] = [];
  for (const [traceId, observations] of byTrace) {
    const root = rootOf(observations);
    const withTags = observations.find((o) => o.tags && o.tags.length > 0);
    traces.push({
      id: traceId,
      name: root.traceName ?? observations.find((o) => o.traceName)?.traceName ?? root.name ?? null,
      user_id: root.userId ?? observations.find((o) => o.userId)?.userId ?? null,
      session_id: root.sessionId ?? observations.find((o) => o.sessionId)?.sessionId ?? null,
      tags: normaliseTags(root.tags && root.tags.length > 0 ? root.tags : withTags?.tags),
      timestamp: iso(root.startTime),
      input: options.io ? v2Io(root.input) : null,
      output: options.io ? v2Io(root.output) : null,
      metadata: options.io ? flatMetadata(root.metadata, v2Io) : null,
      observations: options.observations ? sortObservations(observations.map((o) => observationView(o, options.io, v2Io))) : [],
    });
  }
  return traces;
}

function rootOf(observations: V2Observation[]): V2Observation {
  return (
    observations.find((o) => o.isRootObservation === true) ??
    observations.find((o) => !o.parentObservationId) ??
    [...observations].sort((a, b) => compareTimes(iso(a.startTime), iso(b.startTime)))[0]
  );
}

function observationView(o: LegacyObservation | V2Observation, withIo: boolean, io: (v: unknown) => unknown): ObservationView {
  return {
    id: o.id,
    type: o.type ?? null,
    name: o.name ?? null,
    start_time: iso(o.startTime),
    end_time: iso(o.endTime),
    input: withIo ? io(o.input) : null,
    output: withIo ? io(o.output) : null,
    parent_observation_id: o.parentObservationId ?? null,
  };
}

export function sortObservations(observations: ObservationView[]): ObservationView[] {
  return observations.sort((a, b) => compareTimes(a.start_time, b.start_time) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Newest first, as the original (and Langfuse's list) answers; ties by id, so the order is stable across generations. */
export function newestFirst(traces: TraceView[]): TraceView[] {
  return traces.sort((a, b) => {
    const [ta, tb] = [a.timestamp, b.timestamp];
    if (ta !== tb) {
      if (ta === null) return 1; // no time: last
      if (tb === null) return -1;
      return ta < tb ? 1 : -1;
    }
    return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
  });
}

function compareTimes(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

/** ISO 8601 with milliseconds (what both generations can express), or null. */
export function iso(value: string | Date | null | undefined): string | null {
  if (value === null || value === undefined || value === '') return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString();
}

/** Tags are a set: sorted and de-duplicated (legacy traces store them sorted, v2 rows as the span carried them). */
export function normaliseTags(tags: readonly string[] | null | undefined): string[] {
  return [...new Set(tags ?? [])].sort();
}

/** The legacy API already JSON-parses what Langfuse stored (falling back to the raw string). */
export function legacyIo(value: unknown): unknown {
  return value === undefined ? null : value;
}

/**
 * v2 returns input/output as the raw stored strings: parse them the way the
 * legacy API does (JSON when it parses, else the string), so both agree.
 */
export function v2Io(value: unknown): unknown {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * Metadata as one flat map of dotted paths (how Langfuse v4 stores it and v2
 * returns it); legacy returns it nested, so nested objects are flattened here.
 */
export function flatMetadata(value: unknown, io: (v: unknown) => unknown): unknown {
  const parsed = io(value);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return parsed;
  const out: Record<string, unknown> = {};
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [key, v] of Object.entries(obj)) {
      const path = prefix ? `${prefix}.${key}` : key;
      const leaf = io(v);
      if (leaf !== null && typeof leaf === 'object' && !Array.isArray(leaf)) walk(leaf as Record<string, unknown>, path);
      else out[path] = leaf;
    }
  };
  walk(parsed as Record<string, unknown>, '');
  return out;
}
