import { createObservationAttributes, createTraceAttributes, LangfuseOtelSpanAttributes as A } from '@langfuse/tracing';
import type { CompletionOutcome, CompletionTraceStart } from '@app/completion-forwarding';
import { generationEndAttributes, generationStartAttributes, traceTags } from './generation-attributes';
import { toTraceRecord } from './trace-record';

const metadata = { rollout_id: 'r-1', run_id: 'run-1', row_id: 'row-1' };
const messages = [{ role: 'user', content: 'Say "hi" — ünïcode' }];
const tools = [{ type: 'function', function: { name: 'f', parameters: {} } }];

function start(request: Record<string, unknown>): CompletionTraceStart {
  return { projectId: 'p', tags: ['rollout_id:r-1', 'run_id:run-1'], metadata, request, model: 'm-requested', startTime: new Date(0) };
}

/**
 * What the SDK's own builders give for the same completion: the trace
 * attributes, then the generation at start and at end, as a span holds them
 * after both calls.
 */
function sdkAttributes(info: CompletionTraceStart, outcome: CompletionOutcome, modelParameters?: Record<string, string | number>) {
  const { messages: m, tools: t } = info.request as { messages?: unknown; tools?: unknown };
  const input = t === undefined ? { messages: m } : { messages: m, tools: t };
  const usage = outcome.usage;
  return {
    [A.TRACE_NAME]: 'chat-completion',
    // A tracked call the client saw fail no longer carries its rollout_id tag.
    [A.TRACE_TAGS]: outcome.error ? info.tags.map((t) => (t === 'rollout_id:r-1' ? 'failed_rollout_id:r-1' : t)) : info.tags,
    ...Object.fromEntries(Object.entries(info.metadata).map(([k, v]) => [`${A.TRACE_METADATA}.${k}`, v])),
    ...(typeof info.request.user === 'string' ? { [A.TRACE_USER_ID]: info.request.user } : {}),
    ...createObservationAttributes('generation', { input, model: info.model, modelParameters, metadata: info.metadata, environment: 'staging' }),
    ...createObservationAttributes('generation', {
      output: outcome.output,
      model: outcome.model ?? info.model,
      usageDetails: usage && { input: usage.prompt_tokens!, output: usage.completion_tokens!, total: usage.total_tokens! },
      completionStartTime: outcome.completionStartTime,
      level: outcome.error ? 'ERROR' : undefined,
      statusMessage: outcome.error,
    }),
  };
}

const ours = (info: CompletionTraceStart, outcome: CompletionOutcome) => {
  const record = toTraceRecord({ projectId: 'p', traceId: 't', spanId: 's' }, info, outcome, 0);
  return { ...generationStartAttributes(record, 'staging'), ...generationEndAttributes(record, record.model) };
};

describe('generation attributes', () => {
  it('are what the SDK builders give for a tracked completion with sampling parameters and usage', () => {
    const info = start({ model: 'm-requested', messages, temperature: 0.2, max_tokens: 256, stop: ['\n'], response_format: { type: 'json_object' }, user: 'u-7' });
    const outcome: CompletionOutcome = {
      statusCode: 200,
      output: { role: 'assistant', content: 'hi' },
      usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 },
      model: 'm-served',
      completionStartTime: new Date(1_700_000_000_123),
    };
    const expected = sdkAttributes(info, outcome, { temperature: 0.2, max_tokens: 256, stop: '["\\n"]', response_format: '{"type":"json_object"}' });
    expect(ours(info, outcome)).toEqual(expected);
    // The Date goes as the SDK encodes it: JSON, so a quoted ISO string.
    expect(ours(info, outcome)[A.OBSERVATION_COMPLETION_START_TIME]).toBe('"2023-11-14T22:13:20.123Z"');
  });

  it('are what the SDK builders give for a failed call with tools and no usage', () => {
    const info = start({ model: 'm-requested', messages, tools });
    const outcome: CompletionOutcome = { statusCode: 502, error: 'upstream closed the connection' };
    expect(ours(info, outcome)).toEqual(sdkAttributes(info, outcome));
    expect(ours(info, outcome)[A.OBSERVATION_LEVEL]).toBe('ERROR');
  });

  it('leave out the trace input and output, which Langfuse takes from the root generation', () => {
    const info = start({ model: 'm', messages });
    const attrs = ours(info, { statusCode: 200, output: 'plain text' });
    const traceIo = createTraceAttributes({ input: { messages }, output: 'plain text' });
    for (const key of Object.keys(traceIo)) expect(attrs).not.toHaveProperty(key);
    expect(attrs[A.OBSERVATION_INPUT]).toBe(traceIo[A.TRACE_INPUT]);
    expect(attrs[A.OBSERVATION_OUTPUT]).toBe('plain text');
  });

  it('a tracked call the client saw fail loses its rollout_id tag, so a rollout read never counts it', () => {
    expect(traceTags({ tags: ['mine', 'rollout_id:r-1', 'insertion_id:x'], metadata, error: 'not recorded' })).toEqual(['mine', 'failed_rollout_id:r-1', 'insertion_id:x']);
    expect(traceTags({ tags: ['rollout_id:r-1'], metadata, error: undefined })).toEqual(['rollout_id:r-1']);
    // An untracked call keeps the tags it has (a client's own rollout_id tag included).
    expect(traceTags({ tags: ['rollout_id:r-1'], metadata: {}, error: 'upstream 500' })).toEqual(['rollout_id:r-1']);
  });
});
