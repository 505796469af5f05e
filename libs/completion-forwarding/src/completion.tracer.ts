/** What is known when a completion starts. */
export interface CompletionTraceStart {
  projectId?: string;
  tags: string[];
  /** Trace-level metadata (the rollout ids of tracked calls). */
  metadata: Record<string, string>;
  /** The request body as the client sent it (before our additions). */
  request: Record<string, unknown>;
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
  /** Set for failed calls: becomes level ERROR + status message. */
  error?: string;
}

export interface CompletionTrace {
  /** Langfuse trace id (the OTel trace id). */
  readonly traceId: string;
  /** Hands the finished trace to the exporter. */
  end(outcome: CompletionOutcome): void;
}

/**
 * The port that records one trace per completion. Returns undefined when
 * tracing is off for the project. The default adapter is @app/langfuse-export;
 * pass your own to GatewayModule.forRoot({ completionTracer }).
 */
export abstract class CompletionTracer {
  abstract start(info: CompletionTraceStart): CompletionTrace | undefined;
}
