/** The wire shape of /traces, identical whichever Langfuse API generation served it. */
export interface ObservationView {
  id: string;
  type: string | null;
  name: string | null;
  start_time: string | null;
  end_time: string | null;
  input: unknown;
  output: unknown;
  parent_observation_id: string | null;
}

export interface TraceView {
  id: string;
  name: string | null;
  user_id: string | null;
  session_id: string | null;
  tags: string[];
  /** ISO 8601 */
  timestamp: string | null;
  input: unknown;
  output: unknown;
  metadata: unknown;
  observations: ObservationView[];
}

export interface TracesResponse {
  project_id: string;
  total_traces: number;
  traces: TraceView[];
}

/** Just enough of a trace to know it is visible (no bodies). */
export interface TraceHeader {
  id: string;
  tags: string[];
}

/** What to read from Langfuse: every `tags` (all of) and, when given, at least one of `anyTags`. */
export interface TraceFilter {
  tags: string[];
  anyTags?: string[];
  userId?: string;
  sessionId?: string;
  name?: string;
  environment?: string;
  version?: string;
  release?: string;
  /** ISO 8601, inclusive */
  fromTimestamp?: string;
  /** ISO 8601, exclusive */
  toTimestamp?: string;
}


