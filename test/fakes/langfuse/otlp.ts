/**
 * OTLP/HTTP JSON → stored observations, following Langfuse's OTel mapping
 * (langfuse/langfuse packages/shared/src/server/otel/OtelIngestionProcessor.ts,
 * attributes.ts and ObservationTypeMapper.ts). Only the generic Langfuse / OTel
 * GenAI / OpenInference rules are implemented; framework-specific branches
 * (Vercel AI SDK, Genkit, Logfire, LiveKit, Pydantic AI, ...) are not.
 */
import { HttpError, isPlainObject } from './http-util';
import type {
  ObservationLevel,
  ObservationType,
  StoredObservation,
  TraceContribution,
} from './types';

/** Attribute names (langfuse attributes.ts LangfuseOtelSpanAttributes). */
export const A = {
  TRACE_NAME: 'langfuse.trace.name',
  TRACE_USER_ID: 'user.id',
  TRACE_SESSION_ID: 'session.id',
  TRACE_TAGS: 'langfuse.trace.tags',
  TRACE_PUBLIC: 'langfuse.trace.public',
  TRACE_METADATA: 'langfuse.trace.metadata',
  TRACE_INPUT: 'langfuse.trace.input',
  TRACE_OUTPUT: 'langfuse.trace.output',
  OBSERVATION_TYPE: 'langfuse.observation.type',
  OBSERVATION_METADATA: 'langfuse.observation.metadata',
  OBSERVATION_LEVEL: 'langfuse.observation.level',
  OBSERVATION_STATUS_MESSAGE: 'langfuse.observation.status_message',
  OBSERVATION_INPUT: 'langfuse.observation.input',
  OBSERVATION_OUTPUT: 'langfuse.observation.output',
  OBSERVATION_COMPLETION_START_TIME: 'langfuse.observation.completion_start_time',
  OBSERVATION_MODEL: 'langfuse.observation.model.name',
  OBSERVATION_MODEL_PARAMETERS: 'langfuse.observation.model.parameters',
  OBSERVATION_USAGE_DETAILS: 'langfuse.observation.usage_details',
  OBSERVATION_COST_DETAILS: 'langfuse.observation.cost_details',
  OBSERVATION_PROMPT_NAME: 'langfuse.observation.prompt.name',
  OBSERVATION_PROMPT_VERSION: 'langfuse.observation.prompt.version',
  ENVIRONMENT: 'langfuse.environment',
  RELEASE: 'langfuse.release',
  VERSION: 'langfuse.version',
  AS_ROOT: 'langfuse.internal.as_root',
  IS_APP_ROOT: 'langfuse.internal.is_app_root',
  TRACE_COMPAT_USER_ID: 'langfuse.user.id',
  TRACE_COMPAT_SESSION_ID: 'langfuse.session.id',
} as const;

type Attrs = Record<string, unknown>;

// ---------------------------------------------------------------------------
// OTLP value / id / time conversion
// ---------------------------------------------------------------------------

/** OtelIngestionProcessor.convertValueToPlainJavascript. */
export function convertAnyValue(value: unknown): unknown {
  if (!isPlainObject(value)) return JSON.stringify(value);
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.doubleValue !== undefined) {
    if (typeof value.doubleValue === 'string') {
      const n = Number(value.doubleValue);
      return Number.isFinite(n) ? n : value.doubleValue;
    }
    return value.doubleValue;
  }
  if (value.boolValue !== undefined) return value.boolValue;
  if (isPlainObject(value.arrayValue) && value.arrayValue.values !== undefined) {
    const values = value.arrayValue.values;
    return Array.isArray(values) ? values.map(convertAnyValue) : [];
  }
  if (value.intValue !== undefined) {
    const iv = value.intValue;
    if (typeof iv === 'number') return iv;
    if (typeof iv === 'string' && !Number.isNaN(Number(iv))) return Number(iv);
    if (isPlainObject(iv) && typeof iv.high === 'number' && typeof iv.low === 'number') {
      return iv.high * 2 ** 32 + (iv.low >>> 0);
    }
  }
  // kvlistValue, bytesValue, empty values: Langfuse keeps the JSON of the AnyValue.
  return JSON.stringify(value);
}

export function attributesToRecord(list: unknown): Attrs {
  const out: Attrs = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) {
    if (isPlainObject(kv) && typeof kv.key === 'string') {
      out[kv.key] = kv.value === undefined ? JSON.stringify({}) : convertAnyValue(kv.value);
    }
  }
  return out;
}

const HEX = /^[0-9a-fA-F]+$/;

/**
 * OTLP/JSON encodes ids as hex (the JS exporter does); protobuf-JSON mappings use base64.
 * Hex of the right length is lower-cased; base64 that decodes to the right byte length is
 * converted to hex; byte arrays (or {data: [...]}) are hex-encoded; other non-empty strings
 * are kept as-is (Langfuse's parseId keeps strings unchanged).
 */
export function normalizeId(raw: unknown, byteLength: 16 | 8): string | undefined {
  let value: unknown = raw;
  if (isPlainObject(value) && Array.isArray(value.data)) value = value.data;
  if (Array.isArray(value)) {
    if (!value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) return undefined;
    return value.length > 0 ? Buffer.from(value as number[]).toString('hex') : undefined;
  }
  if (typeof value !== 'string' || value.length === 0) return undefined;
  if (value.length === byteLength * 2 && HEX.test(value)) return value.toLowerCase();
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    const bytes = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === byteLength) return bytes.toString('hex');
  }
  return value;
}

/** OtelIngestionProcessor.convertNanoTimestampToISO (floors to milliseconds). */
export function nanosToIso(ts: unknown): string | undefined {
  try {
    if (ts === null || ts === undefined) return undefined;
    if (typeof ts === 'string') {
      if (ts.trim() === '') return undefined;
      return new Date(Number(BigInt(ts) / 1_000_000n)).toISOString();
    }
    if (typeof ts === 'number') {
      if (!Number.isFinite(ts)) return undefined;
      return new Date(Math.floor(ts / 1e6)).toISOString();
    }
    if (isPlainObject(ts) && typeof ts.high === 'number' && typeof ts.low === 'number') {
      const nanos = (BigInt(ts.high) << 32n) | BigInt(ts.low >>> 0);
      return new Date(Number(nanos / 1_000_000n)).toISOString();
    }
  } catch {
    return undefined;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Attribute extraction (one function per OtelIngestionProcessor extractor)
// ---------------------------------------------------------------------------

function asString(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function firstTruthy(attrs: Attrs, keys: string[]): string | undefined {
  for (const key of keys) {
    if (attrs[key]) return asString(attrs[key]);
  }
  return undefined;
}

export function extractTags(attrs: Attrs): string[] {
  const value =
    attrs[A.TRACE_TAGS] ||
    attrs['langfuse.tags'] ||
    attrs[`${A.OBSERVATION_METADATA}.langfuse_tags`] ||
    attrs[`${A.TRACE_METADATA}.langfuse_tags`] ||
    attrs['ai.telemetry.metadata.tags'] ||
    attrs['tag.tags'];
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map((t) => String(t));
  if (typeof value === 'string' && value.trim().startsWith('[')) {
    try {
      const parsed = JSON.parse(value);
      if (Array.isArray(parsed)) return parsed.map((t) => String(t));
    } catch {
      // fall through
    }
  }
  if (typeof value === 'string' && value.includes(',')) return value.split(',').map((t) => t.trim());
  if (typeof value === 'string') return [value];
  return [];
}

function extractUserId(attrs: Attrs): string | undefined {
  return firstTruthy(attrs, [
    A.TRACE_COMPAT_USER_ID,
    A.TRACE_USER_ID,
    `${A.OBSERVATION_METADATA}.langfuse_user_id`,
    `${A.TRACE_METADATA}.langfuse_user_id`,
    'ai.telemetry.metadata.userId',
  ]);
}

function extractSessionId(attrs: Attrs): string | undefined {
  return firstTruthy(attrs, [
    A.TRACE_COMPAT_SESSION_ID,
    A.TRACE_SESSION_ID,
    'gen_ai.conversation.id',
    `${A.OBSERVATION_METADATA}.langfuse_session_id`,
    `${A.TRACE_METADATA}.langfuse_session_id`,
    'ai.telemetry.metadata.sessionId',
  ]);
}

function extractPublic(attrs: Attrs): boolean | undefined {
  const value = attrs[A.TRACE_PUBLIC] ?? attrs['langfuse.public'];
  if (value === null || value === undefined) return undefined;
  return value === true || value === 'true';
}

function extractEnvironment(attrs: Attrs, resource: Attrs): string {
  for (const key of [A.ENVIRONMENT, 'deployment.environment.name', 'deployment.environment']) {
    if (attrs[key]) return asString(attrs[key]);
    if (resource[key]) return asString(resource[key]);
  }
  return 'default';
}

function extractName(spanName: unknown, attrs: Attrs): string {
  if (attrs['gen_ai.tool.name']) return asString(attrs['gen_ai.tool.name']);
  return typeof spanName === 'string' ? spanName : '';
}

function parseMetadataValue(value: unknown): Attrs {
  if (value === undefined || value === null) return {};
  if (typeof value === 'string') {
    try {
      const parsed = JSON.parse(value);
      return parsed && typeof parsed === 'object' ? (parsed as Attrs) : {};
    } catch {
      return {};
    }
  }
  return isPlainObject(value) ? value : {};
}

const METADATA_EXCLUDED = new Set([
  'ai.telemetry.metadata.userId',
  'ai.telemetry.metadata.sessionId',
  'ai.telemetry.metadata.tags',
  'ai.telemetry.metadata.langfusePrompt',
]);

/** extractMetadata(attributes, domain): JSON blob attribute + `<prefix>.<key>` attributes. */
export function extractMetadata(attrs: Attrs, domain: 'trace' | 'observation'): Attrs {
  const prefix = domain === 'observation' ? A.OBSERVATION_METADATA : A.TRACE_METADATA;
  const topLevel = parseMetadataValue(attrs[prefix] || attrs['langfuse.metadata']);
  const prefixed: Attrs = {};
  for (const [key, value] of Object.entries(attrs)) {
    for (const p of [prefix, 'langfuse.metadata', 'ai.telemetry.metadata']) {
      if (!key.startsWith(`${p}.`) || METADATA_EXCLUDED.has(key)) continue;
      const metadataKey = key.slice(p.length + 1);
      if (metadataKey) prefixed[metadataKey] = value;
    }
  }
  return { ...topLevel, ...prefixed };
}

function hasTraceUpdates(attrs: Attrs): boolean {
  const exact = [
    A.TRACE_NAME,
    A.TRACE_INPUT,
    A.TRACE_OUTPUT,
    A.TRACE_METADATA,
    A.TRACE_USER_ID,
    A.TRACE_SESSION_ID,
    A.TRACE_PUBLIC,
    A.TRACE_TAGS,
    A.TRACE_COMPAT_USER_ID,
    A.TRACE_COMPAT_SESSION_ID,
    `${A.OBSERVATION_METADATA}.langfuse_user_id`,
    `${A.OBSERVATION_METADATA}.langfuse_session_id`,
    `${A.OBSERVATION_METADATA}.langfuse_tags`,
    `${A.TRACE_METADATA}.langfuse_session_id`,
    `${A.TRACE_METADATA}.langfuse_user_id`,
    `${A.TRACE_METADATA}.langfuse_tags`,
    'ai.telemetry.metadata.sessionId',
    'ai.telemetry.metadata.userId',
    'ai.telemetry.metadata.tags',
    'tag.tags',
  ];
  return exact.some((k) => Boolean(attrs[k])) || Object.keys(attrs).some((k) => k.startsWith(A.TRACE_METADATA));
}

/** Keys extractInputAndOutput removes from the `attributes` metadata copy. */
const IO_KEYS = new Set([
  A.TRACE_INPUT, A.TRACE_OUTPUT, A.OBSERVATION_INPUT, A.OBSERVATION_OUTPUT,
  'ai.prompt.messages', 'ai.prompt', 'ai.toolCall.args', 'ai.response.text', 'ai.result.text',
  'ai.toolCall.result', 'ai.response.object', 'ai.result.object', 'ai.response.toolCalls',
  'ai.result.toolCalls', 'gcp.vertex.agent.llm_request', 'gcp.vertex.agent.llm_response',
  'gcp.vertex.agent.tool_call_args', 'gcp.vertex.agent.tool_response', 'prompt',
  'all_messages_events', 'events', 'lk.input_text', 'lk.user_transcript', 'lk.chat_ctx',
  'lk.user_input', 'lk.function_tool.output', 'lk.response.text', 'mlflow.spanInputs',
  'mlflow.spanOutputs', 'traceloop.entity.input', 'traceloop.entity.output', 'input.value',
  'output.value', 'final_result', 'pydantic_ai.all_messages', 'gen_ai.system_instructions',
  'input', 'output', 'gen_ai.input.messages', 'gen_ai.output.messages',
  'gen_ai.tool.call.arguments', 'gen_ai.tool.call.result', 'genkit:input', 'genkit:output',
]);
const IO_PREFIXES = [
  'gen_ai.prompt', 'gen_ai.completion', 'llm.input_messages', 'llm.output_messages',
  'langfuse.trace.metadata', 'langfuse.observation.metadata', 'ai.telemetry.metadata',
];

function filteredAttributes(attrs: Attrs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(attrs)) {
    if (IO_KEYS.has(key) || IO_PREFIXES.some((p) => key.startsWith(p))) continue;
    out[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/** convertKeyPathToNestedObject: `gen_ai.prompt.0.role` → [{role}] */
function keyPathToNested(attrs: Attrs, prefix: string): unknown {
  if (attrs[prefix]) return attrs[prefix];
  const keys = Object.keys(attrs)
    .filter((k) => k.startsWith(`${prefix}.`))
    .map((k) => k.slice(prefix.length + 1));
  const useArray = keys.some((k) => /^\d+\./.test(k));
  const root: Record<string, unknown> | unknown[] = useArray ? [] : {};
  const dangerous = new Set(['__proto__', 'constructor', 'prototype']);
  for (const key of keys) {
    const parts = key.split('.');
    if (parts.some((p) => dangerous.has(p))) continue;
    let cur: Record<string, unknown> = root as unknown as Record<string, unknown>;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i];
      if (!(part in cur) || typeof cur[part] !== 'object' || cur[part] === null) {
        cur[part] = /^\d+$/.test(parts[i + 1]) ? [] : {};
      }
      cur = cur[part] as Record<string, unknown>;
    }
    cur[parts[parts.length - 1]] = attrs[`${prefix}.${key}`];
  }
  return root;
}

/** extractInputAndOutput (generic branches). */
function extractInputOutput(attrs: Attrs, domain: 'trace' | 'observation'): { input: unknown; output: unknown } {
  let input: unknown =
    domain === 'trace' && attrs[A.TRACE_INPUT] ? attrs[A.TRACE_INPUT] : attrs[A.OBSERVATION_INPUT];
  let output: unknown =
    domain === 'trace' && attrs[A.TRACE_OUTPUT] ? attrs[A.TRACE_OUTPUT] : attrs[A.OBSERVATION_OUTPUT];
  if (input != null || output != null) return { input, output };

  for (const [ik, ok] of [
    ['input.value', 'output.value'],
    ['input', 'output'],
    ['tool_arguments', 'tool_response'],
  ]) {
    input = attrs[ik];
    output = attrs[ok];
    if (input || output) return { input, output };
  }

  const hasKeys = (p: string) => Object.keys(attrs).some((k) => k.startsWith(p));
  if (hasKeys('gen_ai.prompt') || hasKeys('gen_ai.completion')) {
    return { input: keyPathToNested(attrs, 'gen_ai.prompt'), output: keyPathToNested(attrs, 'gen_ai.completion') };
  }
  if (hasKeys('llm.input_messages') || hasKeys('llm.output_messages')) {
    return {
      input: keyPathToNested(attrs, 'llm.input_messages'),
      output: keyPathToNested(attrs, 'llm.output_messages'),
    };
  }
  input = attrs['gen_ai.input.messages'];
  output = attrs['gen_ai.output.messages'];
  if (input || output) return { input, output };
  input = attrs['gen_ai.tool.call.arguments'];
  output = attrs['gen_ai.tool.call.result'];
  if (input || output) return { input, output };
  return { input: null, output: null };
}

/** How Langfuse stores input/output: strings as-is, everything else JSON-stringified. */
function toStoredIo(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s === '' ? null : s;
}

function extractModelName(attrs: Attrs): string | undefined {
  return firstTruthy(attrs, [
    A.OBSERVATION_MODEL,
    'gen_ai.response.model',
    'ai.model.id',
    'gen_ai.request.model',
    'llm.response.model',
    'llm.model_name',
    'model',
  ]);
}

function sanitizeModelParams(params: unknown): Record<string, unknown> {
  if (!isPlainObject(params)) return {};
  return Object.fromEntries(
    Object.entries(params).map(([k, v]) => [k, typeof v === 'string' || typeof v === 'number' ? v : JSON.stringify(v)]),
  );
}

function extractModelParameters(attrs: Attrs): Record<string, unknown> {
  for (const key of [A.OBSERVATION_MODEL_PARAMETERS, 'llm.invocation_parameters', 'model_config']) {
    if (attrs[key]) {
      try {
        const parsed = typeof attrs[key] === 'string' ? JSON.parse(attrs[key] as string) : attrs[key];
        return sanitizeModelParams(parsed);
      } catch {
        // fall through
      }
    }
  }
  const out: Attrs = {};
  for (const prefix of ['gen_ai.request.', 'llm.invocation_parameters.']) {
    for (const key of Object.keys(attrs)) {
      if (!key.startsWith(prefix)) continue;
      const paramKey = key.slice(prefix.length);
      if (paramKey !== 'model') out[paramKey] = attrs[key];
    }
  }
  return sanitizeModelParams(out);
}

function parseJsonObjectAttribute(value: unknown): Record<string, unknown> | null {
  if (value === undefined || value === null || value === '') return null;
  if (isPlainObject(value)) return value;
  if (typeof value === 'string') {
    try {
      const parsed = JSON.parse(value);
      return isPlainObject(parsed) ? parsed : {};
    } catch {
      return null;
    }
  }
  return {};
}

function numericRecord(value: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(value)) {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (Number.isFinite(n)) out[k] = n;
  }
  return out;
}

/** extractGenericGenAiUsageDetails. */
function genericGenAiUsage(attrs: Attrs): Record<string, number> {
  const raw: Record<string, number> = {};
  for (const key of Object.keys(attrs)) {
    if (!((key.startsWith('gen_ai.usage.') && key !== 'gen_ai.usage.cost') || key.startsWith('llm.token_count.'))) {
      continue;
    }
    const value = Number(attrs[key]);
    if (!Number.isNaN(value)) raw[key.replace('gen_ai.usage.', '').replace('llm.token_count.', '')] = value;
  }
  if (Object.keys(raw).length === 0) return {};
  const pick = (...keys: string[]) => keys.map((k) => raw[k]).find((v) => v !== undefined);
  const input = pick('prompt_tokens', 'input_tokens', 'prompt');
  const output = pick('completion_tokens', 'output_tokens', 'completion');
  const total = pick('total_tokens', 'total');
  const cacheRead = pick(
    'cache_read.input_tokens', 'cache_read_input_tokens', 'cache_read_tokens', 'details.cache_read_tokens',
    'details.cache_read_input_tokens', 'prompt_details.cache_read', 'input_cached_tokens',
  );
  const cacheCreation = pick(
    'cache_creation.input_tokens', 'cache_creation_input_tokens', 'cache_write_tokens', 'details.cache_write_tokens',
    'details.cache_creation_input_tokens', 'prompt_details.cache_write', 'input_cache_creation',
  );
  const reasoning = pick('reasoning.output_tokens', 'completion_details.reasoning');
  const audio = pick('completion_details.audio');
  const consumed = new Set([
    'prompt_tokens', 'input_tokens', 'prompt', 'completion_tokens', 'output_tokens', 'completion', 'total_tokens',
    'total', 'cache_read.input_tokens', 'cache_read_input_tokens', 'cache_read_tokens', 'details.cache_read_tokens',
    'details.cache_read_input_tokens', 'prompt_details.cache_read', 'input_cached_tokens',
    'cache_creation.input_tokens', 'cache_creation_input_tokens', 'cache_write_tokens', 'details.cache_write_tokens',
    'details.cache_creation_input_tokens', 'prompt_details.cache_write', 'input_cache_creation',
    'reasoning.output_tokens', 'completion_details.reasoning', 'completion_details.audio',
  ]);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!consumed.has(k)) out[k.startsWith('details.') ? k.slice('details.'.length) : k] = v;
  }
  if (input !== undefined) out.input = Math.max(input - (cacheRead ?? 0) - (cacheCreation ?? 0), 0);
  if (output !== undefined) out.output = Math.max(output - (reasoning ?? 0) - (audio ?? 0), 0);
  if (total !== undefined) out.total = total;
  if (cacheRead !== undefined) out.input_cached_tokens = cacheRead;
  if (cacheCreation !== undefined) out.input_cache_creation = cacheCreation;
  if (reasoning !== undefined) out.output_reasoning_tokens = reasoning;
  if (audio !== undefined) out.output_audio_tokens = audio;
  return out;
}

/** Langfuse adds `total` (sum of the other keys) when it was not ingested. */
function withTotal(details: Record<string, number>): Record<string, number> {
  if (Object.keys(details).length === 0 || details.total !== undefined) return details;
  return { ...details, total: Object.values(details).reduce((a, b) => a + b, 0) };
}

function extractUsageDetails(attrs: Attrs): Record<string, number> {
  const explicit = parseJsonObjectAttribute(attrs[A.OBSERVATION_USAGE_DETAILS]);
  return withTotal(explicit !== null ? numericRecord(explicit) : genericGenAiUsage(attrs));
}

function extractCostDetails(attrs: Attrs): Record<string, number> {
  const explicit = parseJsonObjectAttribute(attrs[A.OBSERVATION_COST_DETAILS]);
  if (explicit !== null) return withTotal(numericRecord(explicit));
  for (const key of ['gen_ai.usage.cost', 'llm.cost.total']) {
    const v = attrs[key];
    if (v !== null && v !== undefined && v !== '' && Number.isFinite(Number(v))) return { total: Number(v) };
  }
  return {};
}

function extractCompletionStartTime(attrs: Attrs): string | null {
  const value = attrs[A.OBSERVATION_COMPLETION_START_TIME];
  const valid = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
  if (valid(value)) return new Date(Date.parse(value as string)).toISOString();
  if (typeof value === 'string') {
    try {
      const parsed = JSON.parse(value);
      if (valid(parsed)) return new Date(Date.parse(parsed)).toISOString();
    } catch {
      // fall through
    }
  }
  return null;
}

const LEVEL_ALIASES: Record<string, ObservationLevel> = {
  DEBUG: 'DEBUG', TRACE: 'DEBUG', VERBOSE: 'DEBUG',
  DEFAULT: 'DEFAULT', INFO: 'DEFAULT', LOG: 'DEFAULT', NOTICE: 'DEFAULT', OK: 'DEFAULT', SUCCESS: 'DEFAULT',
  WARNING: 'WARNING', WARN: 'WARNING',
  ERROR: 'ERROR', FATAL: 'ERROR', CRITICAL: 'ERROR',
};

function isErrorStatus(status: unknown): boolean {
  if (!isPlainObject(status)) return false;
  // Langfuse checks `status.code === 2`; the proto3-JSON enum name is accepted too.
  return status.code === 2 || status.code === '2' || status.code === 'STATUS_CODE_ERROR';
}

function hasMeaningfulValue(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  return true;
}

/** ObservationTypeMapperRegistry (generic mappers: priorities 1, 2, 3, 7, 10). */
export function mapObservationType(attrs: Attrs): ObservationType {
  const direct: Record<string, ObservationType> = {
    span: 'SPAN', generation: 'GENERATION', event: 'EVENT', embedding: 'EMBEDDING', agent: 'AGENT',
    tool: 'TOOL', chain: 'CHAIN', retriever: 'RETRIEVER', guardrail: 'GUARDRAIL', evaluator: 'EVALUATOR',
  };
  const openInference: Record<string, ObservationType> = {
    CHAIN: 'CHAIN', RETRIEVER: 'RETRIEVER', LLM: 'GENERATION', EMBEDDING: 'EMBEDDING', AGENT: 'AGENT',
    TOOL: 'TOOL', GUARDRAIL: 'GUARDRAIL', EVALUATOR: 'EVALUATOR',
  };
  const genAiOperation: Record<string, ObservationType> = {
    chat: 'GENERATION', completion: 'GENERATION', text_completion: 'GENERATION', generate_content: 'GENERATION',
    generate: 'GENERATION', embeddings: 'EMBEDDING', invoke_agent: 'AGENT', create_agent: 'AGENT',
    execute_tool: 'TOOL',
  };
  const simple: Array<[string, Record<string, ObservationType>]> = [
    [A.OBSERVATION_TYPE, direct],
    ['openinference.span.kind', openInference],
    ['gen_ai.operation.name', genAiOperation],
  ];
  for (const [key, table] of simple) {
    // A mapper that "can map" but yields no known type stops the search in Langfuse only
    // when it returns a value; unknown values fall through to the next mapper.
    if (hasMeaningfulValue(attrs[key])) {
      const mapped = table[String(attrs[key])];
      if (mapped) return mapped;
    }
  }
  if (hasMeaningfulValue(attrs['gen_ai.tool.name']) || hasMeaningfulValue(attrs['gen_ai.tool.call.id'])) return 'TOOL';
  if ([A.OBSERVATION_MODEL, 'gen_ai.request.model', 'gen_ai.response.model', 'llm.model_name', 'model'].some((k) =>
    hasMeaningfulValue(attrs[k]),
  )) {
    return 'GENERATION';
  }
  return 'SPAN';
}

// ---------------------------------------------------------------------------
// Request validation + mapping
// ---------------------------------------------------------------------------

export class OtlpRejection extends HttpError {}

/**
 * validateOtelSpanIds equivalent: every span needs a traceId and spanId, and
 * scopeSpans/spans/attributes/events must be arrays when present. One bad span
 * rejects the whole export (400), as Langfuse does.
 */
function validate(resourceSpans: unknown[]): void {
  const reasons = new Set<string>();
  let invalid = 0;
  let total = 0;
  for (const rs of resourceSpans) {
    if (!isPlainObject(rs)) continue;
    if (rs.scopeSpans !== undefined && !Array.isArray(rs.scopeSpans)) {
      reasons.add('resource.scopeSpans:not_an_array');
      continue;
    }
    for (const ss of (rs.scopeSpans as unknown[] | undefined) ?? []) {
      if (!isPlainObject(ss)) continue;
      if (ss.spans !== undefined && !Array.isArray(ss.spans)) {
        reasons.add('scope.spans:not_an_array');
        continue;
      }
      for (const span of (ss.spans as unknown[] | undefined) ?? []) {
        total++;
        const spanReasons: string[] = [];
        if (!isPlainObject(span)) {
          spanReasons.push('span:not_an_object');
        } else {
          if (span.traceId === undefined || span.traceId === null) spanReasons.push('traceId:absent');
          else if (!normalizeId(span.traceId, 16)) spanReasons.push('traceId:not_an_id');
          if (span.spanId === undefined || span.spanId === null) spanReasons.push('spanId:absent');
          else if (!normalizeId(span.spanId, 8)) spanReasons.push('spanId:not_an_id');
          if (span.attributes !== undefined && !Array.isArray(span.attributes)) spanReasons.push('attributes:not_an_array');
          if (span.events !== undefined && !Array.isArray(span.events)) spanReasons.push('events:not_an_array');
        }
        if (spanReasons.length > 0) {
          invalid++;
          spanReasons.forEach((r) => reasons.add(r));
        }
      }
    }
  }
  if (reasons.size > 0) {
    throw new OtlpRejection(400, {
      error:
        `Invalid OTLP trace export: ${invalid} of ${total} span(s) cannot be processed (${[...reasons].join(', ')}). ` +
        'traceId and spanId are required on every span, and each must be a string or a byte array; ' +
        'scopeSpans, spans, attributes and events must all be arrays. ' +
        'The entire export was rejected and no spans were ingested.',
    });
  }
}

export interface MapContext {
  projectId: string;
  now: number;
  nextSeq: () => number;
}

/** Maps an ExportTraceServiceRequest's resourceSpans to stored observations. */
export function mapResourceSpans(resourceSpans: unknown[], ctx: MapContext): StoredObservation[] {
  validate(resourceSpans);
  const out: StoredObservation[] = [];
  const nowIso = new Date(ctx.now).toISOString();
  for (const rs of resourceSpans) {
    if (!isPlainObject(rs)) continue;
    const resource = attributesToRecord(isPlainObject(rs.resource) ? rs.resource.attributes : undefined);
    const resourceTraceMetadata = extractMetadata(resource, 'trace');
    for (const ss of (rs.scopeSpans as unknown[] | undefined) ?? []) {
      if (!isPlainObject(ss)) continue;
      const scope = isPlainObject(ss.scope) ? ss.scope : {};
      const scopeName = typeof scope.name === 'string' ? scope.name : '';
      const scopeAttributes = attributesToRecord(scope.attributes);
      const scopeMeta = { ...scope, attributes: scopeAttributes };
      const isLangfuseSdk = scopeName.startsWith('langfuse-sdk');
      for (const rawSpan of (ss.spans as unknown[] | undefined) ?? []) {
        const span = rawSpan as Record<string, unknown>;
        const attrs = attributesToRecord(span.attributes);
        const traceId = normalizeId(span.traceId, 16) as string;
        const id = normalizeId(span.spanId, 8) as string;
        const parent = span.parentSpanId ? normalizeId(span.parentSpanId, 8) ?? null : null;

        const start = nanosToIso(span.startTimeUnixNano);
        const end = nanosToIso(span.endTimeUnixNano);
        const startTime = start ?? end ?? nowIso;
        const endTime = end ?? start ?? nowIso;

        const spanMetadata = extractMetadata(attrs, 'observation');
        const traceMetadata = extractMetadata(attrs, 'trace');
        const filtered = isLangfuseSdk ? {} : { attributes: filteredAttributes(attrs) };
        const type = mapObservationType(attrs);
        const canLinkPrompt = type === 'GENERATION';
        const io = extractInputOutput(attrs, 'observation');
        const environment = extractEnvironment(attrs, resource);
        const version = (attrs[A.VERSION] as string | undefined) ?? (resource['service.version'] as string | undefined) ?? null;
        const release = (attrs[A.RELEASE] as string | undefined) ?? (resource[A.RELEASE] as string | undefined) ?? null;
        const isAppRoot = attrs[A.IS_APP_ROOT] === true || attrs[A.IS_APP_ROOT] === 'true';
        const isRootSpan = !parent || String(attrs[A.AS_ROOT]) === 'true';
        const tags = extractTags(attrs);
        const userId = extractUserId(attrs);
        const sessionId = extractSessionId(attrs);
        const isPublic = extractPublic(attrs);
        const status = span.status;
        const levelAttr = attrs[A.OBSERVATION_LEVEL];
        const level: ObservationLevel =
          (typeof levelAttr === 'string' ? LEVEL_ALIASES[levelAttr.trim().toUpperCase()] : undefined) ??
          (isErrorStatus(status) ? 'ERROR' : 'DEFAULT');
        const statusMessageAttr = attrs[A.OBSERVATION_STATUS_MESSAGE];
        const statusMessage =
          statusMessageAttr !== undefined && statusMessageAttr !== null
            ? asString(statusMessageAttr)
            : isPlainObject(status) && typeof status.message === 'string' && status.message !== ''
              ? status.message
              : null;
        const promptVersionRaw = canLinkPrompt
          ? attrs[A.OBSERVATION_PROMPT_VERSION] ?? attrs['langfuse.prompt.version'] ?? null
          : null;

        // Trace contribution (createTraceEvent).
        let trace: TraceContribution;
        if (isRootSpan) {
          const traceIo = extractInputOutput(attrs, 'trace');
          trace = {
            kind: 'root',
            timestamp: startTime,
            environment,
            name: (attrs[A.TRACE_NAME] as string | undefined) ?? extractName(span.name, attrs),
            metadata: {
              ...resourceTraceMetadata,
              ...traceMetadata,
              ...spanMetadata,
              ...filtered,
              resourceAttributes: resource,
              scope: scopeMeta,
            },
            version,
            release,
            userId,
            sessionId,
            public: isPublic,
            tags,
            input: toStoredIo(traceIo.input),
            output: toStoredIo(traceIo.output),
          };
        } else if (hasTraceUpdates(attrs)) {
          trace = {
            kind: 'update',
            timestamp: startTime,
            environment,
            name: attrs[A.TRACE_NAME] as string | undefined,
            metadata: { ...resourceTraceMetadata, ...traceMetadata, resourceAttributes: resource, scope: scopeMeta },
            version,
            release,
            userId,
            sessionId,
            public: isPublic,
            tags,
            input: toStoredIo(attrs[A.TRACE_INPUT]) ?? undefined,
            output: toStoredIo(attrs[A.TRACE_OUTPUT]) ?? undefined,
          };
        } else {
          trace = { kind: 'shallow', timestamp: startTime, environment };
        }

        out.push({
          id,
          traceId,
          projectId: ctx.projectId,
          parentObservationId: parent,
          name: extractName(span.name, attrs),
          type,
          environment,
          version: version === null ? null : String(version),
          release: release === null ? null : String(release),
          startTime,
          endTime,
          completionStartTime: extractCompletionStartTime(attrs),
          level,
          statusMessage,
          model: extractModelName(attrs) ?? null,
          modelParameters: extractModelParameters(attrs),
          usageDetails: extractUsageDetails(attrs),
          costDetails: extractCostDetails(attrs),
          promptName: canLinkPrompt
            ? ((attrs[A.OBSERVATION_PROMPT_NAME] ?? attrs['langfuse.prompt.name'] ?? null) as string | null)
            : null,
          promptVersion:
            promptVersionRaw === null || Number.isNaN(Number(promptVersionRaw)) ? null : Number(promptVersionRaw),
          input: toStoredIo(io.input),
          output: toStoredIo(io.output),
          metadata: {
            ...resourceTraceMetadata,
            ...spanMetadata,
            ...filtered,
            resourceAttributes: resource,
            scope: scopeMeta,
          },
          eventMetadata: {
            ...filtered,
            resourceAttributes: resource,
            scope: scopeMeta,
            ...spanMetadata,
            ...traceMetadata,
          },
          tags,
          traceName: typeof attrs[A.TRACE_NAME] === 'string' ? (attrs[A.TRACE_NAME] as string) : null,
          userId: userId ?? null,
          sessionId: sessionId ?? null,
          public: isPublic ?? false,
          isAppRoot,
          isRootObservation: !parent || isAppRoot,
          createdAt: nowIso,
          updatedAt: nowIso,
          ingestedAt: ctx.now,
          seq: ctx.nextSeq(),
          trace,
        });
      }
    }
  }
  return out;
}
