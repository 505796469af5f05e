import type { CompletionOutcome, CompletionTraceStart, CompletionUsage } from '@app/completion-forwarding';

/**
 * A finished completion as the export keeps it until Langfuse has taken it:
 * plain JSON (times as epoch milliseconds), so it can wait in a Redis stream,
 * cross to the export worker, or be written to the spool.
 */
export interface TraceRecord {
  projectId: string;
  traceId: string;
  spanId: string;
  tags: string[];
  /** Trace-level metadata (the rollout ids of tracked calls). */
  metadata: Record<string, string>;
  /** The request body the client sent (after the chat preprocessor). */
  request: Record<string, unknown>;
  model: string;
  startTime: number;
  endTime: number;
  statusCode: number;
  output?: unknown;
  usage?: CompletionUsage;
  /** The model the upstream reports. */
  responseModel?: string;
  completionStartTime?: number;
  /** Set for calls the client saw fail. */
  error?: string;
}

export function toTraceRecord(ids: { projectId: string; traceId: string; spanId: string }, start: CompletionTraceStart, outcome: CompletionOutcome, endTime: number): TraceRecord {
  return {
    ...ids,
    tags: start.tags,
    metadata: start.metadata,
    request: start.request,
    model: start.model,
    startTime: start.startTime.getTime(),
    endTime,
    statusCode: outcome.statusCode,
    output: outcome.output,
    usage: outcome.usage,
    responseModel: outcome.model,
    completionStartTime: outcome.completionStartTime?.getTime(),
    error: outcome.error,
  };
}

/** "rollouts r-1, r-2 (+3 more)": what an operator needs to find the traces a log line is about. */
export function describeRollouts(records: readonly Pick<TraceRecord, 'metadata'>[]): string {
  const ids = new Set<string>();
  let untracked = 0;
  for (const record of records) {
    const id = record.metadata.rollout_id ?? (record.metadata.trail_id ? `trail:${record.metadata.trail_id}` : undefined);
    if (id) ids.add(id);
    else untracked++;
  }
  const list = [...ids];
  const named = list.length === 0 ? 'no rollout' : `rollout${list.length > 1 ? 's' : ''} ${list.slice(0, 10).join(', ')}${list.length > 10 ? ` (+${list.length - 10} more)` : ''}`;
  return untracked > 0 ? `${named} and ${untracked} untracked completion(s)` : named;
}
