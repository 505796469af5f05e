/** What is known when a completion starts. */
export interface CompletionTraceStart {
  projectId?: string;
  tags: string[];
  /** Trace-level metadata (the rollout ids of tracked calls). */
  metadata: Record<string, string>;
  /** The request body as the client sent it (before our additions). */
  request: Record<string, unknown>;
  /**
   * The JSON text `request` was parsed from (without a UTF-8 byte order
   * mark), when it is exactly that (the default chat preprocessor, which
   * changes nothing): a tracer may store these bytes instead of serialising
   * `request` again, a pass over the whole prompt.
   */
  requestBytes?: Buffer;
  model: string;
  startTime: Date;
}

export interface CompletionUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  [key: string]: unknown;
}

/** How the completion ended. */
export interface CompletionOutcome {
  statusCode: number;
  /** The assistant message. */
  output?: unknown;
  usage?: CompletionUsage;
  /** The model the upstream reports. */
  model?: string;
  completionStartTime?: Date;
  /**
   * Set for calls the client saw fail: level ERROR + status message, and a
   * tracked call's trace no longer counts for its rollout.
   */
  error?: string;
}

export interface CompletionTrace {
  /** Langfuse trace id (the OTel trace id). */
  readonly traceId: string;
  /**
   * Hands the finished trace to the exporter. Resolves once it is safely
   * queued for delivery (the client's answer waits for it); a trace that
   * cannot be kept is dropped loudly, never by rejecting. Only the first call counts.
   */
  end(outcome: CompletionOutcome): Promise<void>;
}

/** What a tracer reports for /ready and /metrics: its delivery backlog and counts (snake_case, as shown). */
export interface TracerStatus {
  /** Traces waiting for delivery (every replica's, for a shared buffer); null when unknown right now. */
  waiting: number | null;
  /** Delivery is failing now (the destination does not take what it is sent): traces wait and are retried. */
  failing: boolean;
  [key: string]: unknown;
}

/**
 * The port that records one trace per completion. Returns undefined when
 * tracing is off for the project. The default adapter is @app/langfuse-export;
 * pass your own to GatewayModule.forRoot({ completionTracer }).
 */
export abstract class CompletionTracer {
  abstract start(info: CompletionTraceStart): CompletionTrace | undefined;

  /** Delivery backlog and counts, for /ready and /metrics; undefined when the tracer has none. */
  async status(): Promise<TracerStatus | undefined> {
    return undefined;
  }
}
