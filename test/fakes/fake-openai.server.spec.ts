/**
 * The fake OpenAI upstream, driven by the official openai SDK, so the e2e
 * tests can trust that it speaks the real wire protocol.
 */
import OpenAI from 'openai';
import { Agent, request } from 'node:http';
import { FakeOpenAI, startFakeOpenAI } from './fake-openai.server';

let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

const sdk = (prefix = '/v1', opts: { apiKey?: string; timeout?: number } = {}) =>
  new OpenAI({ baseURL: `${fake.url}${prefix}`, apiKey: opts.apiKey ?? 'sk-test-key', maxRetries: 0, timeout: opts.timeout ?? 10_000 });

const user = (content: string) => [{ role: 'user' as const, content }];

describe('non-streaming chat completions', () => {
  it('answers a real-shaped chat.completion echoing the last user message', async () => {
    const res = await sdk().chat.completions.create({
      model: 'fireworks_ai/accounts/fireworks/models/llama',
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'first' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'Hello fake' }],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(typeof res.created).toBe('number');
    expect(res.model).toBe('fireworks_ai/accounts/fireworks/models/llama');
    expect(res.choices).toEqual([expect.objectContaining({ index: 0, finish_reason: 'stop', message: expect.objectContaining({ role: 'assistant', content: 'Echo: Hello fake' }) })]);
    expect(res.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(res.usage!.completion_tokens).toBeGreaterThan(0);
    expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
  });

  it('echoes text parts of multi-part content and copes with no user message', async () => {
    const parts = await sdk().chat.completions.create({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }] });
    expect(parts.choices[0].message.content).toBe('Echo: a b');
    const none = await sdk().chat.completions.create({ model: 'm', messages: [] });
    expect(none.choices[0].message.content).toBe('Echo: (no user message)');
  });

  it('records method, path, headers and the parsed body of every request', async () => {
    await sdk('/v1', { apiKey: 'sk-client-123' }).chat.completions.create({ model: 'gpt-4o-mini', messages: user('x'), metadata: { tags: 'ignored' } as never });
    expect(fake.requests).toHaveLength(1);
    const [r] = fake.requests;
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1/chat/completions');
    expect(r.headers.authorization).toBe('Bearer sk-client-123');
    expect(r.headers['content-type']).toMatch(/application\/json/);
    expect(r.body).toEqual({ model: 'gpt-4o-mini', messages: user('x'), metadata: { tags: 'ignored' } });
    expect(r.aborted).toBe(false);
  });

  it('accepts any prefix ending in /chat/completions (several providers on one server)', async () => {
    for (const prefix of ['/inference/v1', '/openai/v1', '/v1', '', '/a/b/c']) {
      const res = await sdk(prefix).chat.completions.create({ model: 'm', messages: user(prefix) });
      expect(res.choices[0].message.content).toBe(`Echo: ${prefix}`);
    }
    expect(fake.requests.map((r) => r.path)).toEqual([
      '/inference/v1/chat/completions', '/openai/v1/chat/completions', '/v1/chat/completions', '/chat/completions', '/a/b/c/chat/completions',
    ]);
  });

  it('content can be fixed per server, per request (header), or computed', async () => {
    fake.options.content = 'fixed answer';
    expect((await sdk().chat.completions.create({ model: 'm', messages: user('x') })).choices[0].message.content).toBe('fixed answer');
    const viaHeader = await sdk().chat.completions.create({ model: 'm', messages: user('x') }, { headers: { 'x-fake-content': 'from header' } });
    expect(viaHeader.choices[0].message.content).toBe('from header');
    fake.options.content = (body) => `model=${body.model}`;
    expect((await sdk().chat.completions.create({ model: 'mm', messages: user('x') })).choices[0].message.content).toBe('model=mm');
  });

  it('handles a multi-megabyte prompt', async () => {
    const big = 'y'.repeat(3 * 1024 * 1024);
    const res = await sdk().chat.completions.create({ model: 'm', messages: user(big) });
    expect(res.choices[0].message.content).toHaveLength(big.length + 'Echo: '.length);
    expect(res.usage!.prompt_tokens).toBe(big.length / 4);
  });
});

describe('streaming chat completions', () => {
  async function collect(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    const at: number[] = [];
    for await (const c of stream) {
      chunks.push(c);
      at.push(Date.now());
    }
    return { chunks, at, text: chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('') };
  }

  it('streams role delta, content pieces, finish_reason and a usage chunk', async () => {
    const stream = await sdk().chat.completions.create({ model: 'm-stream', messages: user('stream me please'), stream: true, stream_options: { include_usage: true } });
    const { chunks, text } = await collect(stream);
    expect(text).toBe('Echo: stream me please');
    expect(chunks).toHaveLength(1 + 4 + 1 + 1); // role, 4 content pieces (default), finish, usage
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'm-stream' && c.id === chunks[0].id)).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks[5].choices[0].finish_reason).toBe('stop');
    expect(chunks[6].choices).toEqual([]);
    expect(chunks[6].usage!.total_tokens).toBe(chunks[6].usage!.prompt_tokens + chunks[6].usage!.completion_tokens);
  });

  it('sends no usage chunk without stream_options.include_usage; chunk count is a knob', async () => {
    const stream = await sdk().chat.completions.create({ model: 'm', messages: user('abcdefghij'), stream: true }, { headers: { 'x-fake-chunks': '10' } });
    const { chunks, text } = await collect(stream);
    expect(chunks).toHaveLength(1 + 10 + 1);
    expect(chunks.every((c) => !c.usage)).toBe(true);
    expect(text).toBe('Echo: abcdefghij');
  });

  it('speaks SSE on the wire: text/event-stream, one data: frame per chunk, then [DONE]', async () => {
    const res = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: user('hi'), stream: true }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const raw = await res.text();
    const frames = raw.split('\n\n').filter(Boolean);
    expect(frames.every((f) => f.startsWith('data: '))).toBe(true);
    expect(frames[frames.length - 1]).toBe('data: [DONE]');
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('writes chunks separately with the configured gap (not batched)', async () => {
    const t0 = Date.now();
    const stream = await sdk().chat.completions.create({ model: 'm', messages: user('gap test'), stream: true }, { headers: { 'x-fake-chunks': '4', 'x-fake-chunk-gap-ms': '80' } });
    const { chunks, at } = await collect(stream);
    expect(chunks).toHaveLength(6);
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    // Every chunk arrives on its own, roughly one gap after the previous one.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(50);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(5 * 80 - 20);
  });

  it('the gap is also a server option', async () => {
    fake.options.chunkGapMs = 60;
    fake.options.chunks = 2;
    const { at } = await collect(await sdk().chat.completions.create({ model: 'm', messages: user('x'), stream: true }));
    expect(at).toHaveLength(4);
    expect(at[3] - at[0]).toBeGreaterThanOrEqual(3 * 60 - 20);
  });

  it('fail-mid-stream destroys the socket after some chunks: the SDK iteration throws', async () => {
    const received: string[] = [];
    const run = async () => {
      const stream = await sdk().chat.completions.create({ model: 'm', messages: user('0123456789'), stream: true }, { headers: { 'x-fake-chunks': '10', 'x-fake-fail-mid-stream': '1' } });
      for await (const c of stream) received.push(c.choices[0]?.delta?.content ?? '');
    };
    await expect(run()).rejects.toThrow();
    expect(received.length).toBeGreaterThan(1); // role + some content
    expect(received.length).toBeLessThan(12);
    expect(fake.requests[0].aborted).toBe(true);
  });

  it('fail-after-chunks picks where the stream breaks (also via the model name)', async () => {
    const received: unknown[] = [];
    const run = async () => {
      const stream = await sdk().chat.completions.create({ model: 'm/fake-fail-after-chunks-3', messages: user('0123456789'), stream: true }, { headers: { 'x-fake-chunks': '10' } });
      for await (const c of stream) received.push(c);
    };
    await expect(run()).rejects.toThrow();
    expect(received).toHaveLength(1 + 3);
  });

  it('records a client abort mid-stream as aborted', async () => {
    const stream = await sdk().chat.completions.create({ model: 'm', messages: user('x'), stream: true }, { headers: { 'x-fake-chunks': '50', 'x-fake-chunk-gap-ms': '20' } });
    let seen = 0;
    for await (const _ of stream) {
      if (++seen === 2) {
        stream.controller.abort();
        break;
      }
    }
    await waitFor(() => fake.requests[0].aborted);
    expect(fake.requests[0].aborted).toBe(true);
  });
});

describe('error, latency and hang knobs', () => {
  it('x-fake-status answers an OpenAI-style error that the SDK surfaces as APIError', async () => {
    const err = await sdk().chat.completions.create({ model: 'm', messages: user('x') }, { headers: { 'x-fake-status': '500' } }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(500);
    expect(err.error).toEqual(expect.objectContaining({ type: 'server_error', code: 'server_error', message: expect.any(String) }));

    const rate = await sdk().chat.completions.create({ model: 'm', messages: user('x') }, { headers: { 'x-fake-status': '429' } }).catch((e) => e);
    expect(rate).toBeInstanceOf(OpenAI.RateLimitError);
    expect(rate.code).toBe('rate_limit_exceeded');
    expect(rate.type).toBe('rate_limit_error');

    const auth = await sdk().chat.completions.create({ model: 'm', messages: user('x') }, { headers: { 'x-fake-status': '401' } }).catch((e) => e);
    expect(auth).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('errors apply to streaming requests too (before any chunk)', async () => {
    const err = await sdk().chat.completions.create({ model: 'm', messages: user('x'), stream: true }, { headers: { 'x-fake-status': '503' } }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(503);
  });

  it('status via server options (with a custom message) and via the model name; reset() restores', async () => {
    fake.options.status = 400;
    fake.options.errorMessage = 'bad things';
    const err = await sdk().chat.completions.create({ model: 'm', messages: user('x') }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.message).toContain('bad things');
    fake.reset();
    expect(fake.options.status).toBeUndefined();
    expect((await sdk().chat.completions.create({ model: 'm', messages: user('x') })).choices).toHaveLength(1);
    const notFound = await sdk().chat.completions.create({ model: 'fake-status-404', messages: user('x') }).catch((e) => e);
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('headers win over the model name, which wins over server options', async () => {
    fake.options.status = 500;
    const modelWins = await sdk().chat.completions.create({ model: 'x-fake-status-429', messages: user('x') }).catch((e) => e);
    expect(modelWins.status).toBe(429);
    const headerWins = await sdk().chat.completions.create({ model: 'fake-status-429', messages: user('x') }, { headers: { 'x-fake-status': '200' } });
    expect(headerWins.choices[0].message.content).toBe('Echo: x');
  });

  it('latency delays the answer (header, model name, options)', async () => {
    for (const [model, headers] of [['m', { 'x-fake-latency-ms': '150' }], ['m-fake-latency-150', {}]] as const) {
      const t0 = Date.now();
      await sdk().chat.completions.create({ model, messages: user('x') }, { headers });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    }
    fake.options.latencyMs = 150;
    const t0 = Date.now();
    await sdk().models.list();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('hang never answers: the SDK times out, and close() still returns promptly', async () => {
    const own = await startFakeOpenAI();
    try {
      const client = new OpenAI({ baseURL: `${own.url}/v1`, apiKey: 'k', maxRetries: 0, timeout: 300 });
      const t0 = Date.now();
      const err = await client.chat.completions.create({ model: 'm', messages: user('x') }, { headers: { 'x-fake-hang': '1' } }).catch((e) => e);
      // APIConnectionTimeoutError in plain node; under jest the abort reason comes from another realm and the
      // SDK reports its parent class, APIConnectionError.
      expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(290);

      // A hang that is still open when the server closes.
      const pending = fetch(`${own.url}/v1/chat/completions`, { method: 'POST', headers: { 'x-fake-hang': '1', 'content-type': 'application/json' }, body: '{"model":"m"}' }).catch((e) => e);
      await waitFor(() => own.requests.length === 2);
      const t1 = Date.now();
      await own.close();
      expect(Date.now() - t1).toBeLessThan(1000);
      const failed = await pending; // fetch's TypeError is from another realm under jest: check the shape
      expect(failed).not.toBeInstanceOf(Response);
      expect(failed.message).toMatch(/fetch failed/);
      expect(own.requests.every((r) => r.aborted)).toBe(true);
    } finally {
      await own.close();
    }
  });
});

describe('other routes', () => {
  it('GET …/models answers the OpenAI list shape', async () => {
    const page = await sdk('/openai/v1').models.list();
    expect(page.data.map((m) => m.id)).toEqual(['fake-model', 'gpt-4o-mini']);
    expect(page.data[0]).toEqual(expect.objectContaining({ object: 'model', owned_by: 'fake-openai' }));
    expect((await sdk().models.retrieve('gpt-4o-mini')).id).toBe('gpt-4o-mini');
    expect(fake.requests.map((r) => [r.method, r.path])).toEqual([['GET', '/openai/v1/models'], ['GET', '/v1/models/gpt-4o-mini']]);
  });

  it('any other path echoes {path, method} with 200', async () => {
    const res = await fetch(`${fake.url}/v1/embeddings?x=1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"input":"a"}' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: '/v1/embeddings', method: 'POST' });
    expect(fake.requests[0]).toEqual(expect.objectContaining({ path: '/v1/embeddings', query: 'x=1', body: { input: 'a' } }));
    const del = await fetch(`${fake.url}/anything/else`, { method: 'DELETE' });
    expect(await del.json()).toEqual({ path: '/anything/else', method: 'DELETE' });
  });

  it('recordRequests=false records nothing', async () => {
    fake.options.recordRequests = false;
    await sdk().chat.completions.create({ model: 'm', messages: user('x') });
    expect(fake.requests).toHaveLength(0);
  });

  it('keeps connections alive across requests', async () => {
    const own = await startFakeOpenAI({ recordRequests: false });
    let connections = 0;
    own.server.on('connection', () => connections++);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = request(`${own.url}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end(JSON.stringify({ model: 'm', messages: user('k') }));
        });
        expect(status).toBe(200);
      }
      expect(connections).toBe(1);
    } finally {
      agent.destroy();
      await own.close();
    }
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('waitFor: condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
