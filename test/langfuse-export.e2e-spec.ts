/**
 * Trace emission end to end: openai SDK → gateway → fake upstream, and the
 * gateway's OTLP export (@langfuse/otel) → fake Langfuse, per project.
 */
import OpenAI from 'openai';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { LangfuseCompletionTracer } from '@app/langfuse-export';
import { CredentialVault } from '@app/credential-vault';
import { RedisKeys } from '@app/redis';
import { FakeLangfuse, startFakeLangfuse } from './fakes/fake-langfuse.server';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { metadataPath, metricValue, StartedGateway, startGateway, writeSecrets } from './support/gateway';
import { testRedisUrl } from './support/redis';

// Every test runs with the export on the main thread and in its worker thread.
describe.each(['true', 'false'] as const)('LANGFUSE_EXPORT_WORKER=%s', (worker) => {
  let upstream: FakeOpenAI;
  let langfuse: FakeLangfuse;
  let gw: StartedGateway;
  let secretsPath: string;
  const consumer = `gw-${worker}-${randomUUID().slice(0, 8)}:4000`;
  const secretsYaml = `
langfuse_keys:
  proj-a: { public_key: pk-lf-a, secret_key: sk-lf-SECRET-a }
  proj-b: { public_key: pk-lf-b, secret_key: sk-lf-SECRET-b }
  proj-c: { public_key: pk-lf-c, secret_key: sk-lf-WRONG-c }
default_project_id: proj-a
`;

  beforeAll(async () => {
    upstream = await startFakeOpenAI();
    langfuse = await startFakeLangfuse({
      projects: [
        { projectId: 'proj-a', publicKey: 'pk-lf-a', secretKey: 'sk-lf-SECRET-a' },
        { projectId: 'proj-b', publicKey: 'pk-lf-b', secretKey: 'sk-lf-SECRET-b' },
        { projectId: 'proj-c', publicKey: 'pk-lf-c', secretKey: 'sk-lf-SECRET-c' },
      ],
    });
    gw = await startGateway({
      LITELLM_URL: `${upstream.url}/v1`,
      REDIS_URL: testRedisUrl(),
      LANGFUSE_EXPORT: 'true',
      LANGFUSE_HOST: langfuse.url,
      LANGFUSE_FLUSH_INTERVAL: '0.1',
      LANGFUSE_EXPORT_WORKER: worker,
      LANGFUSE_EXPORT_CONSUMER: consumer,
      SECRETS_PATH: (secretsPath = writeSecrets(secretsYaml)),
    });
  });
  afterAll(async () => {
    await gw.close();
    await Promise.all([upstream.close(), langfuse.close()]);
  });

  const flush = () => gw.app.get(LangfuseCompletionTracer).flush();
  const metric = (name: string) => metricValue(gw, name);

  it('says where the export runs', () => {
    expect(gw.logs.join('\n')).toContain(`Langfuse traces are exported ${worker === 'true' ? 'from a worker thread' : 'on the main thread'}`);
  });

  it('one trace per completion in the right project, with exactly the client tags plus the six', async () => {
    const rollout = `r-${randomUUID()}`;
    const c = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout, project: 'proj-b', row: 'row-9' })}`, apiKey: 'sk-client', maxRetries: 0 });
    const { data, response } = await c.chat.completions
      .create({ model: 'accounts/m', messages: [{ role: 'user', content: 'trace me' }], temperature: 0.2, metadata: { tags: ['mine'] } } as never)
      .withResponse();
    const insertionId = response.headers.get('x-insertion-id')!;
    const traceId = response.headers.get('x-langfuse-trace-id')!;
    await flush();

    expect(langfuse.traces('proj-a').filter((t) => t.tags.includes(`rollout_id:${rollout}`))).toHaveLength(0);
    const trace = langfuse.traces('proj-b').find((t) => t.id === traceId)!;
    expect(trace).toBeDefined();
    expect(trace.name).toBe('chat-completion');
    expect([...trace.tags].sort()).toEqual(
      ['mine', `rollout_id:${rollout}`, `insertion_id:${insertionId}`, 'invocation_id:inv-1', 'experiment_id:exp-1', 'run_id:run-1', 'row_id:row-9'].sort(),
    );
    expect(trace.input).toEqual({ messages: [{ role: 'user', content: 'trace me' }] });
    expect(trace.output).toEqual(data.choices[0].message);
    expect(trace.metadata).toMatchObject({ rollout_id: rollout, insertion_id: insertionId, row_id: 'row-9' });
    const [gen] = trace.observations;
    expect(gen.type).toBe('GENERATION');
    expect(gen.model).toBe('accounts/m');
    expect(gen.modelParameters).toMatchObject({ temperature: 0.2 });
    expect(gen.usageDetails).toMatchObject({ input: expect.any(Number), output: expect.any(Number) });
    // The generation carries the same IO as its trace (observations are stored as JSON text).
    const parsed = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
    expect(parsed(gen.input)).toEqual(trace.input);
    expect(parsed(gen.output)).toEqual(trace.output);
  });

  it('the trace carries the request as the client wrote it (escapes, non-ASCII, spacing), through the trace buffer', async () => {
    const rollout = `r-${randomUUID()}`;
    const raw = '{ "model": "m",\n  "messages": [ { "role": "user", "content": "h\\u00e9llo ✓ \\\\ \\"q\\" \\u2028 end" } ],\n  "temperature": 0.5 }';
    const res = await fetch(`${gw.url}${metadataPath({ rollout })}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client' }, body: raw });
    expect(res.status).toBe(200);
    await flush();
    const trace = langfuse.traces('proj-a').find((t) => t.id === res.headers.get('x-langfuse-trace-id'))!;
    expect(trace.input).toEqual({ messages: [{ role: 'user', content: 'héllo ✓ \\ "q" \u2028 end' }] });
    expect(trace.observations[0].modelParameters).toMatchObject({ temperature: 0.5 });

    // Compressed, with a UTF-8 byte order mark (which the parser of compressed bodies drops).
    const zipped = gzipSync(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(raw)]));
    const res2 = await fetch(`${gw.url}${metadataPath({ rollout })}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: 'Bearer sk-client' },
      body: zipped,
    });
    expect(res2.status).toBe(200);
    await flush();
    const trace2 = langfuse.traces('proj-a').find((t) => t.id === res2.headers.get('x-langfuse-trace-id'))!;
    expect(trace2.input).toEqual(trace.input);
  });

  it('streams are traced with the assembled output and completion start time', async () => {
    const rollout = `r-${randomUUID()}`;
    const c = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout })}`, apiKey: 'sk-client', maxRetries: 0 });
    const stream = await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'stream trace' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    await flush();
    const trace = langfuse.traces('proj-a').find((t) => t.tags.includes(`rollout_id:${rollout}`))!;
    expect(trace.output).toEqual({ role: 'assistant', content: text });
    expect(trace.observations[0].completionStartTime).toBeTruthy();
    expect(trace.observations[0].usageDetails).toMatchObject({ total: expect.any(Number) });
  });

  it('a failed call is traced at level ERROR, marked so no rollout read counts it, and not recorded (no x-insertion-id)', async () => {
    const rollout = `r-${randomUUID()}`;
    const res = await fetch(`${gw.url}${metadataPath({ rollout })}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-fake-status': '503' },
      body: JSON.stringify({ model: 'm', messages: [] }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('x-insertion-id')).toBeNull();
    await flush();
    const trace = langfuse.traces('proj-a').find((t) => t.tags.includes(`failed_rollout_id:${rollout}`))!;
    expect(trace.tags).not.toContain(`rollout_id:${rollout}`);
    expect(trace.observations[0].level).toBe('ERROR');
    expect(trace.observations[0].statusMessage).toMatch(/Upstream answered 503/);
  });

  it('reads the Redis trace stream under LANGFUSE_EXPORT_CONSUMER, and leaves nothing in it once Langfuse took the traces', async () => {
    const c = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout: `r-${randomUUID()}`, project: 'proj-a' })}`, apiKey: 'sk-client', maxRetries: 0 });
    await c.chat.completions.create({ model: 'accounts/m', messages: [{ role: 'user', content: 'hi' }] });
    await flush();
    const redis = new Redis(testRedisUrl());
    try {
      const key = new RedisKeys(gw.keyPrefix).shared('langfuse-traces');
      const consumers = (await redis.xinfo('CONSUMERS', key, 'langfuse-export')) as unknown[][];
      const names = consumers.map((fields) => fields[fields.indexOf('name') + 1]);
      expect(names).toContain(consumer);
      expect(await redis.xlen(key)).toBe(0);
    } finally {
      await redis.quit();
    }
  });

  it('keys never reach the upstream, the client, or the logs', async () => {
    const res = await fetch(`${gw.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [] }) });
    const text = await res.text();
    expect(text).not.toContain('sk-lf-SECRET');
    expect(JSON.stringify([...res.headers])).not.toContain('sk-lf-SECRET');
    expect(JSON.stringify(upstream.requests)).not.toContain('sk-lf-SECRET');
    expect(JSON.stringify(upstream.requests)).not.toContain('pk-lf-');
    expect(gw.logs.join('\n')).not.toContain('sk-lf-SECRET');
  });

  if (worker === 'true') {
    it('a worker thread that dies is reported, and the next traces go out through a new one', async () => {
      const tracer = gw.app.get(LangfuseCompletionTracer) as unknown as { host: { worker: Worker } };
      await tracer.host.worker.terminate();
      expect(gw.logs.find((l) => l.includes('The Langfuse export thread stopped'))).toMatch(/exit code \d+\); \d+ trace\(s\) it held in memory may be lost \(those in the Redis trace stream are safe\)/);

      const rollout = `r-${randomUUID()}`;
      const c = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout, project: 'proj-b' })}`, apiKey: 'sk-client', maxRetries: 0 });
      const { response } = await c.chat.completions.create({ model: 'accounts/m', messages: [{ role: 'user', content: 'again' }] }).withResponse();
      await flush();
      expect(langfuse.traces('proj-b').find((t) => t.id === response.headers.get('x-langfuse-trace-id'))).toBeDefined();
    });
  }

  it('an export Langfuse refuses is logged with the HTTP status, the count and the rollout, and no key; the completion still succeeds', async () => {
    // proj-c's secret is wrong for the fake Langfuse: it answers the OTLP request 401 (not retried).
    const rollout = `r-${randomUUID()}`;
    const c = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout, project: 'proj-c' })}`, apiKey: 'sk-client', maxRetries: 0 });
    const answer = await c.chat.completions.create({ model: 'accounts/m', messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.choices[0].message.content).toBeTruthy();

    // The batch goes out on the 0.1 s flush timer; its failure is reported asynchronously.
    const deadline = Date.now() + 10_000;
    let line: string | undefined;
    while (!line && Date.now() < deadline) {
      line = gw.logs.find((l) => l.includes('Langfuse did not take'));
      if (!line) await new Promise((r) => setTimeout(r, 50));
    }
    expect(line).toContain('HTTP 401');
    expect(line).toContain(`1 trace(s) of project proj-c`);
    expect(line).toContain(`rollout ${rollout}`);
    expect(langfuse.traces('proj-c')).toHaveLength(0);
    expect(gw.logs.join('\n')).not.toContain('sk-lf-WRONG');
    // The operator sees it on /metrics too: the trace waits, the export is failing, the batch was put back
    // (the worker thread publishes its counters every 100 ms).
    const until = Date.now() + 2_000;
    while ((await metric('gateway_traces_failing')) !== 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(await metric('gateway_traces_failing')).toBe(1);
    expect(await metric('gateway_traces_waiting')).toBeGreaterThanOrEqual(1);
    expect(await metric('gateway_trace_batches_retried_total')).toBeGreaterThanOrEqual(1);
  });

  it('a project exports several batches at once, so a slow Langfuse does not cap it at one batch per response', async () => {
    // Small batches and a slow Langfuse: one processor would send them one after another.
    const small = await startGateway({
      LITELLM_URL: `${upstream.url}/v1`,
      REDIS_URL: testRedisUrl(),
      LANGFUSE_EXPORT: 'true',
      LANGFUSE_HOST: langfuse.url,
      LANGFUSE_FLUSH_AT: '5',
      LANGFUSE_FLUSH_INTERVAL: '0.1',
      LANGFUSE_EXPORT_WORKER: worker,
      SECRETS_PATH: writeSecrets('langfuse_keys:\n  proj-b: { public_key: pk-lf-b, secret_key: sk-lf-SECRET-b }\n'),
    });
    const rollout = `r-${randomUUID()}`;
    const c = new OpenAI({ baseURL: `${small.url}${metadataPath({ rollout, project: 'proj-b' })}`, apiKey: 'sk-client', maxRetries: 0 });
    const from = Date.now();
    const mine = () => langfuse.traces('proj-b').filter((t) => t.tags.includes(`rollout_id:${rollout}`));
    langfuse.options.latencyMs = 300;
    try {
      await Promise.all(Array.from({ length: 40 }, () => c.chat.completions.create({ model: 'accounts/m', messages: [{ role: 'user', content: 'hi' }] })));
      // No flush: the batches go out on the processors' own schedule.
      const deadline = Date.now() + 15_000;
      while (mine().length < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      langfuse.options.latencyMs = 0;
      await small.close();
    }
    expect(mine()).toHaveLength(40);
    const exports = langfuse.calls.filter((call) => call.path === '/api/public/otel/v1/traces' && call.projectId === 'proj-b' && call.receivedAt >= from);
    // The most of the project's exports in flight at one moment (LANGFUSE_EXPORT_CONCURRENCY is 4 by default).
    const inFlight = Math.max(...exports.map((e) => exports.filter((o) => o.receivedAt <= e.receivedAt && o.at > e.receivedAt).length));
    expect(inFlight).toBeGreaterThan(1);
    expect(inFlight).toBeLessThanOrEqual(4);
  });

  it('keys corrected in the secrets file take effect after a reload (SIGHUP): the traces that waited arrive too', async () => {
    // proj-c's exports were refused above; the operator fixes its key and reloads.
    writeFileSync(secretsPath, secretsYaml.replace('sk-lf-WRONG-c', 'sk-lf-SECRET-c'));
    gw.app.get(CredentialVault).reload();
    const c = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout: `r-${randomUUID()}`, project: 'proj-c' })}`, apiKey: 'sk-client', maxRetries: 0 });
    const { response } = await c.chat.completions.create({ model: 'accounts/m', messages: [{ role: 'user', content: 'rotated' }] }).withResponse();
    await flush();
    // The trace refused above was kept and retried; with the fixed key it arrives with the new one.
    expect(langfuse.traces('proj-c').map((t) => t.id)).toContain(response.headers.get('x-langfuse-trace-id'));
    expect(langfuse.traces('proj-c')).toHaveLength(2);
    expect(gw.logs.join('\n')).not.toContain('sk-lf-SECRET-c');
    expect(await metric('gateway_traces_failing')).toBe(0);
    expect(await metric('gateway_traces_waiting')).toBe(0);
    expect(await metric('gateway_traces_exported_total')).toBeGreaterThanOrEqual(2);
    expect(await metric('gateway_traces_dropped_total')).toBe(0);
  });
});
