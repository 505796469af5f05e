/**
 * The OpenTelemetry attributes of a completion's span: one root span that
 * Langfuse turns into a trace with one generation.
 *
 * Names come from the SDK (`LangfuseOtelSpanAttributes`); values are encoded
 * as the SDK's builders (`createObservationAttributes`) encode them, which
 * `generation-attributes.spec.ts` checks against the installed SDK. They are
 * built here, in one object per span event, because the builders cost about
 * a fifth of the export's CPU on the hot path (a getter per attribute name,
 * three arrays per call, and a second object to merge).
 *
 * The trace's input and output are not sent: Langfuse takes a trace's IO
 * from its root observation's when the trace attributes are absent
 * (OtelIngestionProcessor.extractInputAndOutput, domain "trace"), and the
 * SDK marks `createTraceAttributes` deprecated for that reason. Sending both
 * doubled the largest strings of every export.
 */
import type { Attributes } from '@opentelemetry/api';
import { LangfuseOtelSpanAttributes } from '@langfuse/core';
import type { TraceRecord } from './trace-record';

/** A plain snapshot: reading the SDK's re-exported enum goes through a getter each time. */
const A = { ...LangfuseOtelSpanAttributes };
const TRACE_METADATA_PREFIX = `${A.TRACE_METADATA}.`;
const OBSERVATION_METADATA_PREFIX = `${A.OBSERVATION_METADATA}.`;

export const TRACE_NAME = 'chat-completion';

const MODEL_PARAMETERS = [
  'temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'n', 'stop', 'presence_penalty', 'frequency_penalty',
  'seed', 'logit_bias', 'response_format', 'tool_choice', 'reasoning_effort', 'stream', 'top_k', 'min_p', 'repetition_penalty',
] as const;

/**
 * The trace's tags: the call's, except that a tracked call the client saw
 * fail loses its `rollout_id:` (or `trail_id:`) tag, which becomes
 * `failed_rollout_id:` (`failed_trail_id:`), so a rollout read never finds,
 * counts or returns it.
 */
export function traceTags(record: Pick<TraceRecord, 'tags' | 'metadata' | 'error'>): string[] {
  if (record.error === undefined) return record.tags;
  const { rollout_id: rolloutId, trail_id: trailId } = record.metadata;
  if (rolloutId) return record.tags.map((t) => (t === `${ROLLOUT_TAG}${rolloutId}` ? `${FAILED_ROLLOUT_TAG}${rolloutId}` : t));
  if (trailId) return record.tags.map((t) => (t === `${TRAIL_TAG}${trailId}` ? `${FAILED_TRAIL_TAG}${trailId}` : t));
  return record.tags;
}

// Spelled out here (not imported from routing-metadata): this file runs in the export worker too.
export const ROLLOUT_TAG = 'rollout_id:';
export const FAILED_ROLLOUT_TAG = 'failed_rollout_id:';
export const TRAIL_TAG = 'trail_id:';
export const FAILED_TRAIL_TAG = 'failed_trail_id:';

type StartInfo = Pick<TraceRecord, 'tags' | 'metadata' | 'request' | 'model' | 'error'>;
type EndInfo = Pick<TraceRecord, 'output' | 'usage' | 'responseModel' | 'completionStartTime' | 'error'>;

/** Set when the span starts: the trace's name, tags, user and metadata, and the generation's input. */
export function generationStartAttributes(info: StartInfo, environment: string | undefined): Attributes {
  const { messages, tools } = info.request as { messages?: unknown; tools?: unknown };
  const out: Attributes = {
    [A.TRACE_NAME]: TRACE_NAME,
    [A.TRACE_TAGS]: traceTags(info),
    [A.OBSERVATION_TYPE]: 'generation',
  };
  if (typeof info.request.user === 'string') out[A.TRACE_USER_ID] = info.request.user;
  if (environment != null) out[A.ENVIRONMENT] = environment;
  const input = serialize(tools === undefined ? { messages } : { messages, tools });
  if (input !== undefined) out[A.OBSERVATION_INPUT] = input;
  if (info.model != null) out[A.OBSERVATION_MODEL] = info.model;
  const parameters = modelParameters(info.request);
  if (parameters !== undefined) out[A.OBSERVATION_MODEL_PARAMETERS] = parameters;
  for (const key in info.metadata) {
    const value = info.metadata[key];
    // Langfuse maps `langfuse.trace.metadata.<key>` to the trace's metadata key.
    out[TRACE_METADATA_PREFIX + key] = value;
    if (value) out[OBSERVATION_METADATA_PREFIX + key] = value;
  }
  return out;
}

/** Set when the span ends: the generation's output, usage, model, timing and error. */
export function generationEndAttributes(outcome: EndInfo, requestedModel: string): Attributes {
  const out: Attributes = {};
  if (outcome.error != null) {
    out[A.OBSERVATION_LEVEL] = 'ERROR';
    out[A.OBSERVATION_STATUS_MESSAGE] = outcome.error;
  }
  const output = serialize(outcome.output);
  if (output !== undefined) out[A.OBSERVATION_OUTPUT] = output;
  const model = outcome.responseModel ?? requestedModel;
  if (model != null) out[A.OBSERVATION_MODEL] = model;
  const usage = usageDetails(outcome.usage);
  if (usage !== undefined) out[A.OBSERVATION_USAGE_DETAILS] = usage;
  // As the SDK encodes a Date: JSON, i.e. a quoted ISO string.
  if (outcome.completionStartTime !== undefined) out[A.OBSERVATION_COMPLETION_START_TIME] = JSON.stringify(new Date(outcome.completionStartTime));
  return out;
}

/** As the SDK serialises IO: strings as they are, anything else as JSON. */
function serialize(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return '<failed to serialize>';
  }
}

/** The sampling parameters the client sent, as JSON (anything not a string or number as JSON text). */
function modelParameters(request: Record<string, unknown>): string | undefined {
  const picked: Record<string, string | number> = {};
  for (const key of MODEL_PARAMETERS) {
    const v = request[key];
    if (v === undefined || v === null) continue;
    picked[key] = typeof v === 'string' || typeof v === 'number' ? v : JSON.stringify(v);
  }
  return Object.keys(picked).length ? JSON.stringify(picked) : undefined;
}

function usageDetails(usage: TraceRecord['usage']): string | undefined {
  if (!usage) return undefined;
  const out: Record<string, number> = {};
  if (typeof usage.prompt_tokens === 'number') out.input = usage.prompt_tokens;
  if (typeof usage.completion_tokens === 'number') out.output = usage.completion_tokens;
  if (typeof usage.total_tokens === 'number') out.total = usage.total_tokens;
  return Object.keys(out).length ? JSON.stringify(out) : undefined;
}
