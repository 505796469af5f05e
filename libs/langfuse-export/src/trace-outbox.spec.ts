import { recordJson } from './trace-outbox';
import type { TraceRecord } from './trace-record';

function record(request: Record<string, unknown>, extra: Partial<TraceRecord> = {}): TraceRecord {
  return {
    projectId: 'proj-a',
    traceId: 'a'.repeat(32),
    spanId: 'b'.repeat(16),
    tags: ['rollout_id:r-1', 'insertion_id:i-1'],
    metadata: { rollout_id: 'r-1', insertion_id: 'i-1' },
    request,
    model: 'm',
    startTime: 1,
    endTime: 2,
    statusCode: 200,
    output: { role: 'assistant', content: 'ok' },
    ...extra,
  };
}

describe('recordJson', () => {
  it.each([
    ['spaced out, escaped and non-ASCII', '{ "model": "m",\n "messages": [ { "role": "user", "content": "h\\u00e9llo ✓ \\\\ \\"q\\" \\u2028" } ] }\n'],
    ['compact', JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0.2, tools: [{ type: 'function' }] })],
    ['a repeated key (the last one counts, for the reader too)', '{"model":"a","model":"m","messages":[]}'],
  ])('with the request’s own bytes (%s): parses back to the same record', (_, raw) => {
    const r = record(JSON.parse(raw), { error: 'failed', usage: { prompt_tokens: 3 } });
    const json = recordJson(r, Buffer.from(raw));
    expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(r)));
    // The bytes went in as they are, not serialised again.
    expect(json).toContain(raw);
  });

  it('without them (or empty): plain JSON.stringify', () => {
    const r = record({ model: 'm', messages: [] });
    expect(recordJson(r)).toBe(JSON.stringify(r));
    expect(recordJson(r, Buffer.alloc(0))).toBe(JSON.stringify(r));
  });
});
