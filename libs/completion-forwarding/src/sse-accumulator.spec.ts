import { SseAccumulator } from './sse-accumulator';

const ev = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;

describe('SseAccumulator', () => {
  it('assembles content, usage and model across chunk boundaries that split lines', () => {
    const acc = new SseAccumulator();
    const raw =
      ev({ model: 'm1', choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] }) +
      ev({ choices: [{ index: 0, delta: { content: 'Hel' } }] }) +
      ev({ choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: 'stop' }] }) +
      ev({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }) +
      'data: [DONE]\n\n';
    for (let i = 0; i < raw.length; i += 7) acc.push(Buffer.from(raw.slice(i, i + 7)));
    expect(acc.output()).toEqual({ role: 'assistant', content: 'Hello' });
    expect(acc.usage).toEqual({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
    expect(acc.model).toBe('m1');
    expect(acc.sawDone).toBe(true);
    expect(acc.endedNormally).toBe(true);
  });

  it('merges streamed tool calls by index', () => {
    const acc = new SseAccumulator();
    acc.push(Buffer.from(ev({ choices: [{ delta: { tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'get_', arguments: '{"a"' } }] } }] })));
    acc.push(Buffer.from(ev({ choices: [{ delta: { tool_calls: [{ index: 0, function: { name: 'weather', arguments: ':1}' } }] }, finish_reason: 'tool_calls' }] })));
    expect(acc.output().tool_calls).toEqual([{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"a":1}' } }]);
    expect(acc.endedNormally).toBe(true);
  });

  it('an error event or a missing end is not a normal end', () => {
    const a = new SseAccumulator();
    a.push(Buffer.from(ev({ choices: [{ delta: { content: 'x' } }] })));
    expect(a.endedNormally).toBe(false);
    a.push(Buffer.from(ev({ error: { message: 'overloaded' } }) + 'data: [DONE]\n\n'));
    expect(a.error).toBe('overloaded');
    expect(a.endedNormally).toBe(false);
  });

  it('handles CRLF line endings', () => {
    const a = new SseAccumulator();
    a.push(Buffer.from('data: {"choices":[{"delta":{"content":"ok"}}]}\r\n\r\ndata: [DONE]\r\n\r\n'));
    expect(a.output().content).toBe('ok');
    expect(a.sawDone).toBe(true);
  });
});
