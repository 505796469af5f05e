/**
 * The gateway core end to end: the official openai SDK → the real gateway
 * (AppModule over HTTP) → the fake OpenAI upstream, with the real Redis.
 */
import OpenAI from 'openai';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { encodeBaseUrl, json, metadataPath, rolloutKey, settleRegistrations, StartedGateway, startGateway, writeSecrets } from './support/gateway';
import { testRedisUrl } from './support/redis';

const SECRETS = writeSecrets(`
langfuse_keys:
  proj-a: { public_key: pk-lf-test-a, secret_key: sk-lf-test-SECRET-a }
  proj-b: { public_key: pk-lf-test-b, secret_key: sk-lf-test-SECRET-b }
default_project_id: proj-a
`);

let upstream: FakeOpenAI;
let redis: Redis;

beforeAll(async () => {
  upstream = await startFakeOpenAI();
  redis = new Redis(testRedisUrl());
});
afterAll(async () => {
  await upstream.close();
  await redis.quit();
});
beforeEach(() => upstream.reset());

const rid = () => `r-${randomUUID()}`;
/** The ids recorded for a rollout, in whichever project the call worked in (or in the one given). */
async function ids(gw: StartedGateway, rollout: string, project?: string): Promise<string[]> {
  await settleRegistrations(gw);
  if (project !== undefined) return redis.smembers(rolloutKey(gw.keyPrefix, project, rollout, 'ids'));
  const keys = await redis.keys(`${gw.keyPrefix}:{*:${rollout}}:ids`);
  return (await Promise.all(keys.map((k) => redis.smembers(k)))).flat();
}
const client = (gw: StartedGateway, path: string, apiKey = 'sk-client-key-123') => new OpenAI({ baseURL: `${gw.url}${path}`, apiKey, maxRetries: 0, timeout: 10_000 });
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('tracked completions through LITELLM_URL', () => {
  let gw: StartedGateway;
  beforeAll(async () => {
    gw = await startGateway({ LITELLM_URL: `${upstream.url}/v1`, REDIS_URL: testRedisUrl(), SECRETS_PATH: SECRETS });
  });
  afterAll(() => gw.close());

  it('non-streaming: forwards with the six tags, returns x-insertion-id, records it in Redis', async () => {
    const rollout = rid();
    const { data, response } = await client(gw, metadataPath({ rollout, invocation: 'i1', experiment: 'e1', run: 'u1', row: 'w1' }))
      .chat.completions.create({ model: 'fireworks_ai/accounts/fireworks/models/llama-v3p3-70b-instruct', messages: [{ role: 'user', content: 'Hello gateway' }], metadata: { tags: ['client-tag'] } } as never)
      .withResponse();
    expect(data.choices[0].message.content).toContain('Hello gateway');
    const insertionId = response.headers.get('x-insertion-id');
    expect(insertionId).toMatch(UUID_V7);
    // The request id is the gateway's (on its log lines); the upstream's own comes back under its own name.
    expect(response.headers.get('x-request-id')).toMatch(UUID);
    expect(response.headers.get('x-upstream-request-id')).toMatch(/^req_fake_/);

    const [sent] = upstream.requests;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe('Bearer sk-client-key-123');
    expect(sent.body.model).toBe('fireworks_ai/accounts/fireworks/models/llama-v3p3-70b-instruct');
    expect(sent.body.metadata.tags).toEqual([
      'client-tag', `rollout_id:${rollout}`, `insertion_id:${insertionId}`, 'invocation_id:i1', 'experiment_id:e1', 'run_id:u1', 'row_id:w1',
    ]);
    expect(JSON.stringify(sent.body)).not.toContain('sk-lf-test');
    expect(await ids(gw, rollout)).toEqual([insertionId]);
    const ttl = await redis.ttl(rolloutKey(gw.keyPrefix, 'proj-a', rollout, 'ids'));
    expect(ttl).toBeGreaterThan(6 * 24 * 3600);
  });

  it('streaming: relays every chunk and records the id once the stream ended', async () => {
    const rollout = rid();
    const stream = await client(gw, metadataPath({ rollout })).chat.completions.create({
      model: 'm', messages: [{ role: 'user', content: 'stream me' }], stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text).toContain('stream me');
    const stored = await ids(gw, rollout);
    expect(stored).toHaveLength(1);
    expect(upstream.requests[0].body.metadata.tags).toContain(`insertion_id:${stored[0]}`);
  });

  it('streaming: the headers reach the client when the upstream sends them, not with the first token', async () => {
    const rollout = rid();
    const started = Date.now();
    const res = await fetch(`${gw.url}${metadataPath({ rollout })}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client-key-123', 'x-fake-first-chunk-delay-ms': '600' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'slow first token' }], stream: true }),
    });
    const headersAfter = Date.now() - started;
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    await reader.read();
    const firstChunkAfter = Date.now() - started;
    while (!(await reader.read()).done);
    // The upstream holds its first token 600 ms after its headers: the client had the headers well before.
    expect(firstChunkAfter).toBeGreaterThanOrEqual(550);
    expect(firstChunkAfter - headersAfter).toBeGreaterThanOrEqual(400);
  });

  it('records one id per completion of a rollout', async () => {
    const rollout = rid();
    const c = client(gw, metadataPath({ rollout }));
    const headers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `n${i}` }] }).withResponse()),
    );
    const returned = headers.map((h) => h.response.headers.get('x-insertion-id')).sort();
    expect((await ids(gw, rollout)).sort()).toEqual(returned);
    expect(new Set(returned).size).toBe(8);
  });

  it.each([
    ['/v1 + metadata', (r: string) => `/v1${metadataPath({ rollout: r })}`, true, 'proj-a'],
    ['project + metadata', (r: string) => metadataPath({ rollout: r, project: 'proj-b' }), true, 'proj-b'],
    ['/v1 + project + metadata', (r: string) => `/v1${metadataPath({ rollout: r, project: 'proj-b' })}`, true, 'proj-b'],
    ['project only', () => '/project_id/proj-b', false, undefined],
    ['/v1 + project only', () => '/v1/project_id/proj-b', false, undefined],
    ['plain', () => '', false, undefined],
    ['plain /v1', () => '/v1', false, undefined],
  ])('route shape %s', async (_, path, tracked, project) => {
    const rollout = rid();
    const { response } = await client(gw, path(rollout)).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    expect(response.status).toBe(200);
    expect(Boolean(response.headers.get('x-insertion-id'))).toBe(tracked);
    // Recorded in the project the call worked in, and only there.
    expect(await ids(gw, rollout)).toHaveLength(tracked ? 1 : 0);
    if (project) expect(await ids(gw, rollout, project)).toHaveLength(1);
    if (!tracked) expect(upstream.requests[0].body.metadata).toBeUndefined();
  });

  it('unknown project → 404 that names no configured project', async () => {
    const res = await fetch(`${gw.url}/project_id/nope/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [] }) });
    expect(res.status).toBe(404);
    const body = await json(res);
    expect(body.detail).toBe('Unknown project_id "nope".');
    expect(JSON.stringify(body)).not.toMatch(/proj-a|proj-b/);
    expect(upstream.requests).toHaveLength(0);
  });

  it('malformed JSON, wrong content type, missing model → 400 saying what to fix', async () => {
    const url = `${gw.url}${metadataPath({ rollout: rid() })}/chat/completions`;
    const bad = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": "m", ' });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe('invalid_json');
    const text = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    expect(text.status).toBe(400);
    expect((await json(text)).detail).toMatch(/Content-Type: application\/json/);
    const noModel = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [] }) });
    expect(noModel.status).toBe(400);
    expect((await json(noModel)).detail).toMatch(/"model"/);
    expect(upstream.requests).toHaveLength(0);
  });

  it('bad encoded_base_url → 400', async () => {
    for (const enc of ['@@notbase64@@', encodeBaseUrl('ftp://example.com/v1'), encodeBaseUrl('not a url')]) {
      const res = await fetch(`${gw.url}${metadataPath({ rollout: rid() })}/encoded_base_url/${encodeURIComponent(enc)}/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [] }),
      });
      expect(res.status).toBe(400);
      expect((await json(res)).error.code).toBe('invalid_encoded_base_url');
    }
  });

  it('encoded_base_url to a loopback address is refused by the SSRF guard by default', async () => {
    const rollout = rid();
    const err = await client(gw, metadataPath({ rollout, baseUrl: `${upstream.url}/v1` })).chat.completions.create({ model: 'm', messages: [] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(403);
    expect(err.message).toMatch(/127\.0\.0\.1, a loopback address; list it in UPSTREAM_ALLOW_CIDRS to allow it/);
    expect(upstream.requests).toHaveLength(0);
    expect(await ids(gw, rollout)).toHaveLength(0);
  });

  it.each([
    'http://[64:ff9b::7f00:1]/v1', // NAT64 of 127.0.0.1
    'http://[2002:7f00:1::]/v1', // 6to4 of 127.0.0.1
    'http://[::127.0.0.1]/v1', // IPv4-compatible
    'http://[::ffff:a9fe:a9fe]/v1', // IPv4-mapped metadata address
    'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/v1', // Teredo
    'http://[fec0::1]/v1', // site-local
    'http://0x7f.1/v1',
    'http://2130706433/v1',
    'http://api.localhost/v1',
  ])('encoded_base_url %s → 403 forbidden_upstream, nothing sent or recorded', async (baseUrl) => {
    const rollout = rid();
    const res = await fetch(`${gw.url}${metadataPath({ rollout, baseUrl })}/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [] }),
    });
    expect(res.status).toBe(403);
    const body = await json(res);
    expect(body.error.code).toBe('forbidden_upstream');
    expect(body.detail).toMatch(/; list it in UPSTREAM_ALLOW_CIDRS to allow it\.$/);
    expect(upstream.requests).toHaveLength(0);
    expect(await ids(gw, rollout)).toHaveLength(0);
  });

  it('upstream 4xx/5xx pass through with their bodies and nothing is recorded', async () => {
    const rollout = rid();
    const err = await client(gw, metadataPath({ rollout })).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-fake-status': '500' } }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(500);
    const err429 = await client(gw, metadataPath({ rollout })).chat.completions.create({ model: 'm', messages: [] }, { headers: { 'x-fake-status': '429' } }).catch((e) => e);
    expect(err429.status).toBe(429);
    expect(await ids(gw, rollout)).toHaveLength(0);
  });

  it('a body over MAX_BODY_SIZE → 413 naming the variable', async () => {
    const small = await startGateway({ LITELLM_URL: `${upstream.url}/v1`, MAX_BODY_SIZE: '1kb' });
    try {
      const res = await fetch(`${small.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(5000) }] }) });
      expect(res.status).toBe(413);
      expect((await json(res)).detail).toMatch(/MAX_BODY_SIZE \(1kb\)/);
    } finally {
      await small.close();
    }
  });

  it('a chunked body (no Content-Length) over MAX_BODY_SIZE → 413 too, and the connection stays usable', async () => {
    const small = await startGateway({ LITELLM_URL: `${upstream.url}/v1`, MAX_BODY_SIZE: '1kb' });
    try {
      const payload = Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(5000) }] }));
      const stream = new ReadableStream({
        start(c) {
          for (let i = 0; i < payload.length; i += 512) c.enqueue(payload.subarray(i, i + 512));
          c.close();
        },
      });
      const res = await fetch(`${small.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
      expect(res.status).toBe(413);
      expect((await json(res)).detail).toMatch(/MAX_BODY_SIZE \(1kb\)/);
      const health = await fetch(`${small.url}/health`);
      expect(health.status).toBe(200);
    } finally {
      await small.close();
    }
  });

  it('reads gzip-compressed JSON bodies, and says what is wrong with empty, broken or non-UTF-8 ones', async () => {
    const rollout = rid();
    const url = `${gw.url}${metadataPath({ rollout })}/chat/completions`;
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'café' }] });
    const gz = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(body) });
    expect(gz.status).toBe(200);
    const utf8 = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset="UTF-8"' }, body });
    expect(utf8.status).toBe(200);
    expect(upstream.requests.map((r) => (r.body as { messages: Array<{ content: string }> }).messages[0].content)).toEqual(['café', 'café']);
    expect(await ids(gw, rollout)).toHaveLength(2);
    const latin1 = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=latin1' }, body: Buffer.from(body, 'latin1') });
    expect(latin1.status).toBe(400);
    expect((await json(latin1)).detail).toMatch(/UTF-8.*charset=latin1/);

    const empty = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(empty.status).toBe(400);
    expect((await json(empty)).detail).toMatch(/"model"/);
    const broken = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": "m", "messages": [' });
    expect(broken.status).toBe(400);
    expect((await json(broken)).detail).toMatch(/not valid JSON/);
    const suffixed = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/vnd.api+json' }, body });
    expect(suffixed.status).toBe(200);
  });

  it('accepts a large evaluation prompt under the default limit (several MB)', async () => {
    const big = 'y'.repeat(3 * 1024 * 1024);
    const res = await client(gw, metadataPath({ rollout: rid() })).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: big }] });
    expect(res.choices[0].message.content?.length).toBeGreaterThan(0);
  });

  it('client disconnect mid-stream → nothing recorded, upstream request aborted', async () => {
    const rollout = rid();
    const stream = await client(gw, metadataPath({ rollout })).chat.completions.create(
      { model: 'm', messages: [{ role: 'user', content: 'long' }], stream: true },
      { headers: { 'x-fake-chunks': '50', 'x-fake-chunk-gap-ms': '50' } },
    );
    let seen = 0;
    for await (const _ of stream) {
      if (++seen === 2) {
        stream.controller.abort();
        break;
      }
    }
    await new Promise((r) => setTimeout(r, 400));
    expect(await ids(gw, rollout)).toHaveLength(0);
  });

  it('client disconnect before the upstream answers → upstream request aborted, nothing recorded, no error logged', async () => {
    const rollout = rid();
    const abort = new AbortController();
    const pending = client(gw, metadataPath({ rollout }))
      .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-fake-latency-ms': '1500' }, signal: abort.signal })
      .catch((e: Error) => e);
    const deadline = Date.now() + 5_000;
    while (upstream.requests.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    expect(await pending).toBeInstanceOf(Error);
    while (!upstream.requests[0].aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(upstream.requests[0].aborted).toBe(true);
    await new Promise((r) => setTimeout(r, 1_700));
    expect(await ids(gw, rollout)).toHaveLength(0);
    expect(gw.logs.filter((l) => l.startsWith('error'))).toEqual([]);
  });

  it('a client that reads slowly still gets the whole stream (backpressure), and the id is recorded', async () => {
    const rollout = rid();
    const frames = 100_000; // ~20 MB of SSE: more than the kernel's socket buffers hold while the client pauses
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(`${gw.url}${metadataPath({ rollout })}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client-key-123', 'x-fake-chunks': String(frames) },
      });
      req.once('error', reject);
      req.once('response', (res) => {
        const parts: Buffer[] = [];
        res.pause();
        setTimeout(() => {
          res.on('data', (c: Buffer) => parts.push(c));
          res.once('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
          res.resume();
        }, 3_000);
      });
      req.end(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true }));
    });
    expect(status).toBe(200);
    const events = text.split('\n\n').filter((e) => e.startsWith('data: '));
    expect(events[events.length - 1]).toBe('data: [DONE]');
    expect(events).toHaveLength(frames + 3); // role, content pieces, finish, [DONE]
    expect(await ids(gw, rollout)).toHaveLength(1);
  }, 30_000);

  it('upstream failing mid-stream → the client sees an error and nothing is recorded', async () => {
    const rollout = rid();
    const run = async () => {
      const stream = await client(gw, metadataPath({ rollout })).chat.completions.create(
        { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true },
        { headers: { 'x-fake-chunks': '10', 'x-fake-fail-mid-stream': '1' } },
      );
      for await (const _ of stream) { /* drain */ }
    };
    await expect(run()).rejects.toThrow();
    expect(await ids(gw, rollout)).toHaveLength(0);
  });

  it('an upstream stream that ends without [DONE] or a finish_reason → the client sees an error, nothing is recorded', async () => {
    const rollout = rid();
    const run = async () => {
      const stream = await client(gw, metadataPath({ rollout })).chat.completions.create(
        { model: 'm', messages: [{ role: 'user', content: 'truncate me please' }], stream: true },
        { headers: { 'x-fake-chunks': '6', 'x-fake-end-after-chunks': '3' } },
      );
      for await (const _ of stream) { /* drain */ }
    };
    await expect(run()).rejects.toThrow(/ended without \[DONE\] or a finish_reason/);
    expect(await ids(gw, rollout)).toHaveLength(0);
  });

  it('a client that leaves after the finish_reason (only [DONE] pending) is recorded: the completion happened', async () => {
    const rollout = rid();
    const stream = await client(gw, metadataPath({ rollout })).chat.completions.create(
      { model: 'm', messages: [{ role: 'user', content: 'finish then wait' }], stream: true },
      { headers: { 'x-fake-chunks': '3', 'x-fake-done-delay-ms': '2000' } },
    );
    for await (const chunk of stream) {
      if (chunk.choices[0]?.finish_reason) {
        stream.controller.abort();
        break;
      }
    }
    const deadline = Date.now() + 5_000;
    let stored: string[] = [];
    while (stored.length === 0 && Date.now() < deadline) {
      stored = await ids(gw, rollout);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(stored).toHaveLength(1);
  });

  it('catch-all proxies other paths to the default upstream with the client key, without doubling /v1', async () => {
    const models = await client(gw, '/v1').models.list();
    expect(models.data.length).toBeGreaterThan(0);
    expect(upstream.requests[0].path).toBe('/v1/models');
    expect(upstream.requests[0].headers.authorization).toBe('Bearer sk-client-key-123');
  });

  it('catch-all: a GET that declares a JSON content-type but has no body goes upstream without one', async () => {
    const res = await fetch(`${gw.url}/v1/models`, { headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client-key-123' } });
    expect(res.status).toBe(200);
    expect(upstream.requests[0].method).toBe('GET');
    expect(upstream.requests[0].body).toBeUndefined();
    expect(upstream.requests[0].headers['content-length']).toBeUndefined();
  });

  // Spacing and `1.0` that JSON.stringify would not reproduce: the byte count shows a re-serialisation.
  const asSent = '{ "model": "m",  "input": "zipped",\n  "dimensions": 1.0 }';

  it('catch-all: a JSON body goes upstream as the bytes the client sent', async () => {
    const res = await fetch(`${gw.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client-key-123' },
      body: asSent,
    });
    expect(res.status).toBe(200);
    expect(upstream.requests[0].headers['content-length']).toBe(String(Buffer.byteLength(asSent)));
    expect(upstream.requests[0].body).toEqual({ model: 'm', input: 'zipped', dimensions: 1 });
  });

  it('catch-all: a gzip JSON body goes upstream as the JSON it carried, not labelled gzip any more', async () => {
    const res = await fetch(`${gw.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: 'Bearer sk-client-key-123' },
      body: gzipSync(asSent),
    });
    expect(res.status).toBe(200);
    expect(upstream.requests[0].path).toBe('/v1/embeddings');
    expect(upstream.requests[0].headers['content-encoding']).toBeUndefined();
    expect(upstream.requests[0].headers['content-length']).toBe(String(Buffer.byteLength(asSent)));
    expect(upstream.requests[0].body).toEqual({ model: 'm', input: 'zipped', dimensions: 1 });
  });

  it('health and readiness', async () => {
    expect(await (await fetch(`${gw.url}/health`)).json()).toEqual({ status: 'healthy', service: 'metadata-proxy' });
    const ready = await json(await fetch(`${gw.url}/ready`));
    expect(ready.status).toBe('ready');
    expect(ready.store.kind).toBe('redis');
  });

  it('never logs the client key or Langfuse secrets', () => {
    const all = gw.logs.join('\n');
    expect(all).not.toContain('sk-client-key-123');
    expect(all).not.toContain('sk-lf-test-SECRET');
  });
});

describe('provider routing without LITELLM_URL', () => {
  let gw: StartedGateway;
  beforeAll(async () => {
    gw = await startGateway({
      REDIS_URL: testRedisUrl(),
      UPSTREAM_PROVIDERS: `fireworks_ai=${upstream.url}/inference/v1,groq=${upstream.url}/openai/v1`,
      DEFAULT_UPSTREAM_URL: `${upstream.url}/default/v1`,
    });
  });
  afterAll(() => gw.close());

  it('picks the provider by prefix and strips it; no metadata.tags to strict provider APIs', async () => {
    const rollout = rid();
    await client(gw, metadataPath({ rollout })).chat.completions.create({ model: 'fireworks_ai/accounts/fireworks/models/llama', messages: [{ role: 'user', content: 'x' }] });
    await client(gw, metadataPath({ rollout })).chat.completions.create({ model: 'groq/llama-3.1-8b', messages: [{ role: 'user', content: 'x' }] });
    await client(gw, metadataPath({ rollout })).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
    expect(upstream.requests.map((r) => [r.path, r.body.model])).toEqual([
      ['/inference/v1/chat/completions', 'accounts/fireworks/models/llama'],
      ['/openai/v1/chat/completions', 'llama-3.1-8b'],
      ['/default/v1/chat/completions', 'gpt-4o-mini'],
    ]);
    expect(upstream.requests.every((r) => r.body.metadata === undefined)).toBe(true);
    expect(await ids(gw, rollout)).toHaveLength(3);
  });
});

// The guard's own e2e (allow and deny lists, eval-protocol-shaped calls) is ssrf-guard.e2e-spec.ts.
describe('encoded_base_url with ALLOW_PRIVATE_UPSTREAMS (compatibility: the guard off)', () => {
  let gw: StartedGateway;
  beforeAll(async () => {
    gw = await startGateway({ REDIS_URL: testRedisUrl(), ALLOW_PRIVATE_UPSTREAMS: 'true', DEFAULT_UPSTREAM_URL: 'http://127.0.0.1:9/unused' });
  });
  afterAll(() => gw.close());

  it('overrides the upstream for one call (padded base64 as eval-protocol sends it) and strips a known prefix', async () => {
    const rollout = rid();
    const { response } = await client(gw, metadataPath({ rollout, baseUrl: `${upstream.url}/custom/v1` }))
      .chat.completions.create({ model: 'openai/my-finetune', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    expect(response.status).toBe(200);
    expect(upstream.requests[0].path).toBe('/custom/v1/chat/completions');
    expect(upstream.requests[0].body.model).toBe('my-finetune');
    expect(upstream.requests[0].body.metadata.tags).toContain(`rollout_id:${rollout}`);
    expect(await ids(gw, rollout)).toHaveLength(1);
  });
});

describe('upstream failures', () => {
  it('connection refused → 502, nothing recorded', async () => {
    const gw = await startGateway({ LITELLM_URL: 'http://127.0.0.1:9/v1', REDIS_URL: testRedisUrl() });
    try {
      const rollout = rid();
      const err = await client(gw, metadataPath({ rollout })).chat.completions.create({ model: 'm', messages: [] }).catch((e) => e);
      expect(err.status).toBe(502);
      // The operator's LITELLM_URL host may be internal: the client learns which setting, the log the host.
      expect(err.message).toMatch(/Could not reach the LITELLM_URL upstream: ECONNREFUSED/);
      expect(err.message).not.toContain('127.0.0.1:9');
      expect(gw.logs.join('\n')).toMatch(/502 upstream_unreachable: .*\[upstream 127\.0\.0\.1:9: connect ECONNREFUSED/);
      expect(await ids(gw, rollout)).toHaveLength(0);
    } finally {
      await gw.close();
    }
  });

  it('REQUEST_TIMEOUT → 504 with a clear message, nothing recorded', async () => {
    const gw = await startGateway({ LITELLM_URL: `${upstream.url}/v1`, REDIS_URL: testRedisUrl(), REQUEST_TIMEOUT: '1' });
    try {
      const rollout = rid();
      const err = await client(gw, metadataPath({ rollout })).chat.completions.create({ model: 'm', messages: [] }, { headers: { 'x-fake-hang': '1' } }).catch((e) => e);
      expect(err.status).toBe(504);
      expect(err.message).toMatch(/The LITELLM_URL upstream did not answer within REQUEST_TIMEOUT \(1 s\)/);
      expect(err.message).not.toContain(new URL(upstream.url).host);
      expect(await ids(gw, rollout)).toHaveLength(0);
    } finally {
      await gw.close();
    }
  });
});

describe('embedded defaults (no Redis configured)', () => {
  it('starts on the in-memory store with a warning and still tracks', async () => {
    const gw = await startGateway({ LITELLM_URL: `${upstream.url}/v1` });
    try {
      expect(gw.logs.join('\n')).toMatch(/in-memory completeness store\. It is for one process only/);
      const { response } = await client(gw, metadataPath({ rollout: rid() })).chat.completions.create({ model: 'm', messages: [] }).withResponse();
      expect(response.headers.get('x-insertion-id')).toMatch(UUID_V7);
      expect((await json(await fetch(`${gw.url}/ready`))).store.kind).toBe('memory');
    } finally {
      await gw.close();
    }
  });
});

describe('metrics', () => {
  it('exposes request counts by route pattern (no ids in labels) and recorded completions', async () => {
    const gw = await startGateway({ LITELLM_URL: `${upstream.url}/v1`, REDIS_URL: testRedisUrl() });
    try {
      await client(gw, metadataPath({ rollout: rid() })).chat.completions.create({ model: 'm', messages: [] });
      await settleRegistrations(gw); // a busy machine may have queued it (it counts once stored)
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      expect(text).toMatch(/gateway_http_requests_total\{route="\/rollout_id\/:rollout_id\/invocation_id\/:invocation_id\/experiment_id\/:experiment_id\/run_id\/:run_id\/row_id\/:row_id\/chat\/completions",method="POST",status="200"\} 1/);
      expect(text).toMatch(/gateway_completions_recorded_total 1/);
      expect(text).not.toMatch(/rollout_id="/);
    } finally {
      await gw.close();
    }
  });
});

describe('client gone before the upstream answers', () => {
  it('is not logged as an unhandled error and records nothing', async () => {
    const gw = await startGateway({ LITELLM_URL: `${upstream.url}/v1`, REDIS_URL: testRedisUrl() });
    try {
      const rollout = rid();
      const abort = new AbortController();
      const pending = fetch(`${gw.url}${metadataPath({ rollout })}/chat/completions`, {
        method: 'POST', signal: abort.signal, headers: { 'content-type': 'application/json', 'x-fake-latency-ms': '500' }, body: JSON.stringify({ model: 'm', messages: [] }),
      }).catch((e) => e);
      await new Promise((r) => setTimeout(r, 100));
      abort.abort();
      await pending;
      await new Promise((r) => setTimeout(r, 700));
      expect(gw.logs.join('\n')).not.toMatch(/Unhandled error/);
      expect(await ids(gw, rollout)).toHaveLength(0);
      expect(upstream.requests.some((r) => r.aborted)).toBe(true);
    } finally {
      await gw.close();
    }
  });
});

describe('a gzip-compressing upstream', () => {
  it('is inflated before the client and the trace see it', async () => {
    const { createServer } = await import('node:http');
    const { gzipSync } = await import('node:zlib');
    const body = gzipSync(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model: 'gz', choices: [{ index: 0, message: { role: 'assistant', content: 'zipped' }, finish_reason: 'stop' }] }));
    const gz = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length }).end(body));
    });
    await new Promise<void>((r) => gz.listen(0, '127.0.0.1', r));
    const gw = await startGateway({ LITELLM_URL: `http://127.0.0.1:${(gz.address() as { port: number }).port}/v1`, REDIS_URL: testRedisUrl() });
    try {
      const rollout = rid();
      const res = await client(gw, metadataPath({ rollout })).chat.completions.create({ model: 'm', messages: [] });
      expect(res.choices[0].message.content).toBe('zipped');
      expect(await ids(gw, rollout)).toHaveLength(1);
    } finally {
      await gw.close();
      gz.closeAllConnections();
      await new Promise((r) => gz.close(r));
    }
  });
});
