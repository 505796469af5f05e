/**
 * Types shared by the fake Langfuse server (see ../fake-langfuse.server.ts).
 */

export interface FakeLangfuseProject {
  projectId: string;
  publicKey: string;
  secretKey: string;
  /** Optional display name returned by GET /api/public/projects (defaults to projectId). */
  name?: string;
}

export type FakeLangfuseMode = 'v4' | 'v3' | 'v4-events-only';

export interface FakeLangfuseRateLimit {
  maxCalls: number;
  windowMs: number;
  retryAfterSeconds: number;
}

export interface FakeLangfuseOptions {
  projects: FakeLangfuseProject[];
  /**
   * v4 (default): every endpoint.
   * v3: GET /api/public/v2/observations answers 404 (as a v3 server without the v4 preview does).
   * v4-events-only: legacy GET /api/public/traces and /api/public/traces/{id} answer 404
   *   (as LANGFUSE_MIGRATION_V4_WRITE_MODE=events_only does, before authentication).
   */
  mode?: FakeLangfuseMode;
  /** Ingested spans become readable (legacy + v2) only this long after they were received. */
  visibilityDelayMs?: number;
  /** Added to every response (all endpoints). */
  latencyMs?: number;
  /** Read endpoints answer 429 + Retry-After once more than maxCalls happened in the window (per project). */
  rateLimit?: FakeLangfuseRateLimit;
  /** The next N read calls answer 503, 500, 503, ... (decremented in place). */
  fail5xxNext?: number;
  /** Faults of OTLP ingestion (POST /api/public/otel/v1/traces), after authentication; nothing is stored while they apply. */
  ingestion?: FakeIngestionFaults;
  /**
   * For benchmarks: keep no spans, only each trace's id under each of its tags, so that a long run
   * neither grows this process nor slows it. GET /api/public/traces then answers the count of
   * traces carrying every `tags` filter in `meta.totalItems`, with no data; the other read
   * endpoints answer 501. Ingestion reads each span's trace id and tags only (no mapping).
   */
  countOnly?: boolean;
  /** Listen port (default 0 = ephemeral). */
  port?: number;
  /** Listen host (default 127.0.0.1). */
  host?: string;
}

export interface FakeIngestionFaults {
  /** Every export answers this status (503, 429, 400, …) until unset. */
  status?: number;
  /** Only the next N exports answer `status` (decremented in place); unset = every export. */
  failNext?: number;
  /** Sent as Retry-After (seconds) with the failure. */
  retryAfterSeconds?: number;
  /** Exports wait this long before they are answered (slow ingestion; the answer still counts). */
  delayMs?: number;
  /** Only exports whose spans carry one of these trace ids fail (a trace Langfuse refuses); others are stored. */
  refuseTraceIds?: string[];
}

export type ObservationType =
  | 'SPAN'
  | 'GENERATION'
  | 'EVENT'
  | 'AGENT'
  | 'TOOL'
  | 'CHAIN'
  | 'RETRIEVER'
  | 'EVALUATOR'
  | 'EMBEDDING'
  | 'GUARDRAIL';

export const OBSERVATION_TYPES: readonly ObservationType[] = [
  'GENERATION',
  'SPAN',
  'EVENT',
  'AGENT',
  'TOOL',
  'CHAIN',
  'RETRIEVER',
  'EVALUATOR',
  'EMBEDDING',
  'GUARDRAIL',
];

export type ObservationLevel = 'DEBUG' | 'DEFAULT' | 'WARNING' | 'ERROR';
export const OBSERVATION_LEVELS: readonly ObservationLevel[] = ['DEBUG', 'DEFAULT', 'WARNING', 'ERROR'];

/**
 * What one span contributes to its (legacy) trace record, mirroring the trace-create
 * events OtelIngestionProcessor emits: a root span gives a full trace body, a span with
 * `langfuse.trace.*` attributes an update, any other span only a "shallow" trace.
 * `undefined` means "does not overwrite" (Langfuse's overwriteObject merge rule).
 */
export interface TraceContribution {
  kind: 'root' | 'update' | 'shallow';
  timestamp: string;
  environment: string;
  name?: string;
  metadata?: Record<string, unknown>;
  version?: string | null;
  release?: string | null;
  userId?: string;
  sessionId?: string;
  public?: boolean;
  tags?: string[];
  /** raw (stored) string or undefined */
  input?: string | null;
  output?: string | null;
}

/**
 * One ingested OTel span, stored the way Langfuse v4 stores an events-table row
 * (trace attributes denormalised onto the span that carried them).
 */
export interface StoredObservation {
  id: string;
  traceId: string;
  projectId: string;
  parentObservationId: string | null;
  name: string;
  type: ObservationType;
  environment: string;
  version: string | null;
  release: string | null;
  startTime: string;
  endTime: string;
  completionStartTime: string | null;
  level: ObservationLevel;
  statusMessage: string | null;
  model: string | null;
  modelParameters: Record<string, unknown>;
  usageDetails: Record<string, number>;
  costDetails: Record<string, number>;
  promptName: string | null;
  promptVersion: number | null;
  /** Raw stored strings, exactly as Langfuse keeps them (v2 returns them as-is, legacy JSON-parses them). */
  input: string | null;
  output: string | null;
  /** Observation metadata in the nested shape of the legacy observations table. */
  metadata: Record<string, unknown>;
  /** Metadata in the shape of the v4 events table before flattening. */
  eventMetadata: Record<string, unknown>;
  /** Trace attributes carried by this span itself (v4 denormalises them per span). */
  tags: string[];
  traceName: string | null;
  userId: string | null;
  sessionId: string | null;
  public: boolean;
  isAppRoot: boolean;
  /** No parent, or `langfuse.internal.is_app_root` / as_root. */
  isRootObservation: boolean;
  createdAt: string;
  updatedAt: string;
  /** Epoch ms when the fake received the span (visibility delay is counted from here). */
  ingestedAt: number;
  /** Monotonic ingestion sequence number. */
  seq: number;
  trace: TraceContribution;
}

/** A trace as the legacy API sees it, derived from the stored spans (returned by `traces()` and given to `withhold`). */
export interface StoredTrace {
  id: string;
  projectId: string;
  timestamp: string;
  name: string | null;
  /** Parsed like the legacy API returns them. */
  input: unknown;
  output: unknown;
  sessionId: string | null;
  userId: string | null;
  release: string | null;
  version: string | null;
  environment: string;
  /** Union of all spans' tags, sorted (Langfuse's trace merge rule). */
  tags: string[];
  metadata: Record<string, unknown>;
  public: boolean;
  observations: StoredObservation[];
  firstIngestedAt: number;
  lastIngestedAt: number;
}

export interface FakeLangfuseCall {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  projectId?: string;
  status: number;
  /** When the request arrived and when it was answered (ms since the epoch). */
  receivedAt: number;
  at: number;
}

export interface FakeLangfuse {
  url: string;
  /** Mutable at runtime: changes apply to the next request. */
  options: FakeLangfuseOptions;
  calls: FakeLangfuseCall[];
  /** Traces matching are never returned by any read (simulates a lost trace). */
  withhold(predicate: (trace: StoredTrace) => boolean): void;
  /** Everything ingested for a project (ignores visibility delay and withhold). */
  traces(projectId: string): StoredTrace[];
  /** Drops stored data, calls, withhold predicates and rate-limit windows. */
  reset(): void;
  /** Stops listening and drops every connection (Langfuse down: connections are refused). */
  stop(): Promise<void>;
  /** Listens again on the same port, with the data it had. */
  start(): Promise<void>;
  /** OTLP exports it stored (2xx), and refused (faults), since start or reset. */
  ingestion: { stored: number; refused: number };
  close(): Promise<void>;
}
