import { LangfuseConnection } from './langfuse-connections';
import { ReadBudget } from './read-budget';
import { TraceFilter, TraceHeader, TraceView } from './trace.model';

export interface ReadOptions {
  budget: ReadBudget;
  /** Include trace/observation input, output and metadata (the `io` field group). */
  io: boolean;
  /** Include observations (the `observations` field group). */
  observations: boolean;
  /** Page size for the legacy trace list (≤ 100); v2 pages use LANGFUSE_V2_PAGE_SIZE. */
  legacyPageSize: number;
  /** Pause between consecutive detail GETs of one worker (legacy) / between page calls (v2). */
  sleepBetweenGetsMs?: number;
  /** Traces the caller already holds: they are left out of the answer (the legacy reader skips their detail GETs). */
  known?: ReadonlySet<string>;
  /** Only the newest this many matching traces (a read without a rollout); all when absent. */
  maxTraces?: number;
}

/**
 * The Langfuse read port. Adapters: v2 (observations API), legacy (trace
 * list + trace detail) and the auto-detecting one bound by default. Pass
 * your own to GatewayModule.forRoot({ langfuseReader }).
 *
 * Both methods return every trace that matches the filter (all pages, or
 * the newest `maxTraces`), findTraces leaving out the `known` ones. A
 * filter the API cannot express (v2 has no release filter) is applied to
 * what it returns.
 */
export abstract class LangfuseReader {
  abstract findTraces(conn: LangfuseConnection, filter: TraceFilter, options: ReadOptions): Promise<TraceView[]>;

  /** Ids and tags only: what is visible, as cheaply as the API allows. */
  abstract findTraceHeaders(conn: LangfuseConnection, filter: TraceFilter, options: Pick<ReadOptions, 'budget' | 'legacyPageSize'>): Promise<TraceHeader[]>;
}
