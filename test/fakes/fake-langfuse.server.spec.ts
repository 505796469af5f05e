/**
 * Exercises the fake Langfuse over real HTTP: OTLP JSON ingestion for two projects, legacy
 * trace list/detail, v2 observations (filters, field groups, cursor paging), auth isolation,
 * every knob, and the real @langfuse/otel LangfuseSpanProcessor exporting into it.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

import { startFakeLangfuse, type FakeLangfuse, type FakeLangfuseProject } from './fake-langfuse.server';

const A: FakeLangfuseProject = { projectId: 'proj-a', publicKey: 'pk-lf-a', secretKey: 'sk-lf-a' };
const B: FakeLangfuseProject = { projectId: 'proj-b', publicKey: 'pk-lf-b', secretKey: 'sk-lf-b' };

const basic = (p: FakeLangfuseProject) => `Basic ${Buffer.from(`${p.publicKey}:${p.secretKey}`).toString('base64')}`;

type AnyValue =
  | { stringValue: string }
  | { intValue: string | number }
  | { doubleValue: number }
  | { boolValue: boolean }
  | { arrayValue: { values: AnyValue[] } };

function v(value: string | number | boolean | string[]): AnyValue {
  if (Array.isArray(value)) return { arrayValue: { values: value.map((s) => ({ stringValue: s })) } };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
}

let idCounter = 0;
const hex = (bytes: number) => {
  idCounter++;
  return (Date.now().toString(16) + idCounter.toString(16).padStart(8, '0')).padStart(bytes * 2, '0').slice(-bytes * 2);
};
const newTraceId = () => hex(16);
const newSpanId = () => hex(8);

interface SpanSpec {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startMs: number;
  endMs?: number;
  attributes?: Record<string, string | number | boolean | string[]>;
  status?: { code: number; message?: string };
}

function otlp(spans: SpanSpec[], scopeName = 'metadata-gateway') {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'gateway-test' } }] },
        scopeSpans: [
          {
            scope: { name: scopeName, version: '1.0.0' },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              kind: 1,
              startTimeUnixNano: String(BigInt(s.startMs) * 1_000_000n),
              endTimeUnixNano: String(BigInt(s.endMs ?? s.startMs + 250) * 1_000_000n),
              attributes: Object.entries(s.attributes ?? {}).map(([key, value]) => ({ key, value: v(value) })),
              status: s.status ?? { code: 0 },
            })),
          },
        ],
      },
    ],
  };
}

/** A tracked completion as the gateway would emit it: one GENERATION span carrying the trace attributes. */
function completionSpan(traceId: string, tags: string[], startMs: number, extra: SpanSpec['attributes'] = {}): SpanSpec {
  return {
    traceId,
    spanId: newSpanId(),
    name: 'chat.completions',
    startMs,
    endMs: startMs + 800,
    attributes: {
      'langfuse.observation.type': 'generation',
      'langfuse.trace.name': 'chat-completion',
      'langfuse.trace.tags': tags,
      'langfuse.observation.input': JSON.stringify([{ role: 'user', content: 'hi' }]),
      'langfuse.observation.output': JSON.stringify({ role: 'assistant', content: 'hello' }),
      'gen_ai.request.model': 'accounts/fireworks/models/llama',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 5,
      ...extra,
    },
  };
}

describe('fake Langfuse server', () => {
  let fake: FakeLangfuse;

  beforeAll(async () => {
    fake = await startFakeLangfuse({ projects: [A, B] });
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
    fake.options.mode = 'v4';
    fake.options.visibilityDelayMs = 0;
    fake.options.latencyMs = 0;
    fake.options.rateLimit = undefined;
    fake.options.fail5xxNext = 0;
    fake.options.countOnly = undefined;
  });

  async function call(
    project: FakeLangfuseProject | null,
    path: string,
    init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: any; headers: Headers }> {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (project) headers.authorization = basic(project);
    let body: Buffer | string | undefined;
    if (init.body !== undefined) {
      if (Buffer.isBuffer(init.body)) body = init.body;
      else {
        body = JSON.stringify(init.body);
        headers['content-type'] ??= 'application/json';
      }
    }
    const res = await fetch(`${fake.url}${path}`, { method: init.method ?? (init.body ? 'POST' : 'GET'), headers, body });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  const ingest = (project: FakeLangfuseProject, spans: SpanSpec[], scopeName?: string) =>
    call(project, '/api/public/otel/v1/traces', { body: otlp(spans, scopeName) });

  it('countOnly (benchmarks) keeps trace ids by tag only: counts per tag filter and project, no spans, no other reads', async () => {
    fake.options.countOnly = true;
    const t1 = newTraceId();
    const t2 = newTraceId();
    const t3 = newTraceId();
    expect((await ingest(A, [completionSpan(t1, ['rollout_id:r1', 'row_id:a'], Date.now()), completionSpan(t2, ['rollout_id:r1', 'row_id:b'], Date.now())])).status).toBe(200);
    // A retried export of the same trace counts once; another project's traces never.
    expect((await ingest(A, [completionSpan(t1, ['rollout_id:r1', 'row_id:a'], Date.now())])).status).toBe(200);
    expect((await ingest(B, [completionSpan(t3, ['rollout_id:r1'], Date.now())])).status).toBe(200);
    const count = async (query: string) => (await call(A, `/api/public/traces?limit=1&${query}`)).body;
    expect(await count('tags=rollout_id:r1')).toEqual({ data: [], meta: { page: 1, limit: 1, totalItems: 2, totalPages: 2 } });
    expect((await count('tags=rollout_id:r1&tags=row_id:b')).meta.totalItems).toBe(1);
    expect((await count('tags=rollout_id:r2')).meta.totalItems).toBe(0);
    expect((await count('')).meta.totalItems).toBe(2);
    expect(fake.traces(A.projectId)).toEqual([]);
    expect((await call(A, `/api/public/traces/${t1}`)).status).toBe(501);
    expect((await call(A, '/api/public/v2/observations?limit=1')).status).toBe(501);
  });

  const v2 = (project: FakeLangfuseProject, params: Record<string, string | string[]>) => {
    const qs = new URLSearchParams();
    for (const [k, val] of Object.entries(params)) for (const x of Array.isArray(val) ? val : [val]) qs.append(k, x);
    return call(project, `/api/public/v2/observations?${qs}`);
  };
  const tagFilter = (operator: 'all of' | 'any of' | 'none of', value: string[], column = 'traceTags') =>
    JSON.stringify([{ type: 'arrayOptions', column, operator, value }]);

  describe('OTLP ingestion + legacy reads', () => {
    it('maps a root span + generation child to a legacy trace with the real field names', async () => {
      const traceId = newTraceId();
      const rootId = newSpanId();
      const genId = newSpanId();
      const t0 = Date.UTC(2026, 0, 10, 12, 0, 0);
      const res = await ingest(A, [
        {
          traceId,
          spanId: rootId,
          name: 'rollout-step',
          startMs: t0,
          endMs: t0 + 2000,
          attributes: {
            'langfuse.trace.name': 'eval-trace',
            'langfuse.trace.tags': JSON.stringify(['rollout_id:r1', 'row_id:w1']),
            'langfuse.trace.metadata.experiment': 'e1',
            'user.id': 'user-1',
            'langfuse.session.id': 'sess-1',
            'langfuse.release': 'rel-1',
            'langfuse.version': 'v9',
            'langfuse.environment': 'staging',
            'langfuse.observation.input': JSON.stringify({ messages: [{ role: 'user', content: 'q' }] }),
            'langfuse.observation.output': 'plain text answer',
          },
        },
        {
          traceId,
          spanId: genId,
          parentSpanId: rootId,
          name: 'llm-call',
          startMs: t0 + 100,
          endMs: t0 + 1100,
          attributes: {
            'langfuse.observation.type': 'generation',
            'langfuse.observation.model.name': 'gpt-test',
            'langfuse.observation.model.parameters': JSON.stringify({ temperature: 0.2, stop: ['x'] }),
            'langfuse.observation.usage_details': JSON.stringify({ input: 10, output: 4 }),
            'langfuse.observation.completion_start_time': JSON.stringify(new Date(t0 + 400).toISOString()),
            'langfuse.observation.metadata.attempt': 2,
            'langfuse.observation.level': 'WARNING',
            'langfuse.observation.input': JSON.stringify([{ role: 'user', content: 'q' }]),
          },
          status: { code: 2, message: 'upstream slow' },
        },
      ]);
      expect(res).toMatchObject({ status: 200, body: {} });

      const detail = await call(A, `/api/public/traces/${traceId}`);
      expect(detail.status).toBe(200);
      expect(detail.body).toMatchObject({
        id: traceId,
        projectId: A.projectId,
        timestamp: new Date(t0).toISOString(),
        name: 'eval-trace',
        input: { messages: [{ role: 'user', content: 'q' }] },
        output: 'plain text answer',
        sessionId: 'sess-1',
        userId: 'user-1',
        release: 'rel-1',
        version: 'v9',
        environment: 'staging',
        tags: ['rollout_id:r1', 'row_id:w1'],
        public: false,
        bookmarked: false,
        htmlPath: `/project/${A.projectId}/traces/${traceId}`,
        scores: [],
        latency: 2,
        totalCost: 0,
      });
      expect(detail.body.metadata).toMatchObject({ experiment: 'e1', resourceAttributes: { 'service.name': 'gateway-test' } });
      const gen = detail.body.observations.find((o: any) => o.id === genId);
      expect(gen).toMatchObject({
        id: genId,
        traceId,
        type: 'GENERATION',
        name: 'llm-call',
        parentObservationId: rootId,
        startTime: new Date(t0 + 100).toISOString(),
        endTime: new Date(t0 + 1100).toISOString(),
        completionStartTime: new Date(t0 + 400).toISOString(),
        model: 'gpt-test',
        modelParameters: { temperature: 0.2, stop: '["x"]' },
        input: [{ role: 'user', content: 'q' }],
        output: null,
        level: 'WARNING',
        statusMessage: 'upstream slow',
        usageDetails: { input: 10, output: 4, total: 14 },
        usage: { unit: 'TOKENS', input: 10, output: 4, total: 14 },
        promptTokens: 10,
        completionTokens: 4,
        totalTokens: 14,
        latency: 1,
        timeToFirstToken: 0.3,
        environment: 'default', // environment is per span: only the root span set langfuse.environment
      });
      expect(gen.metadata).toMatchObject({ attempt: 2 });
      const root = detail.body.observations.find((o: any) => o.id === rootId);
      expect(root).toMatchObject({ type: 'SPAN', parentObservationId: null, level: 'DEFAULT' });

      const list = await call(A, '/api/public/traces?tags=rollout_id:r1');
      expect(list.status).toBe(200);
      expect(list.body.meta).toEqual({ page: 1, limit: 50, totalItems: 1, totalPages: 1 });
      expect(list.body.data[0]).toMatchObject({ id: traceId, name: 'eval-trace', tags: ['rollout_id:r1', 'row_id:w1'] });
      expect([...list.body.data[0].observations].sort()).toEqual([rootId, genId].sort());

      expect(fake.traces(A.projectId)).toHaveLength(1);
      expect(fake.traces(B.projectId)).toHaveLength(0);
    });

    it('filters legacy lists by tags (all-of, repeated and comma-split), name/user and pages them', async () => {
      const base = Date.UTC(2026, 0, 11);
      const ids: string[] = [];
      const spans: SpanSpec[] = [];
      for (let i = 0; i < 5; i++) {
        const traceId = newTraceId();
        ids.push(traceId);
        spans.push(
          completionSpan(traceId, ['rollout_id:R', `insertion_id:${i}`, i % 2 === 0 ? 'even' : 'odd'], base + i * 1000, {
            'user.id': i < 3 ? 'u-low' : 'u-high',
          }),
        );
      }
      expect((await ingest(A, spans)).status).toBe(200);

      const all = await call(A, '/api/public/traces?tags=rollout_id:R&limit=2&page=1');
      expect(all.body.meta).toEqual({ page: 1, limit: 2, totalItems: 5, totalPages: 3 });
      expect(all.body.data.map((t: any) => t.id)).toEqual([ids[4], ids[3]]); // timestamp desc
      const page3 = await call(A, '/api/public/traces?tags=rollout_id:R&limit=2&page=3');
      expect(page3.body.data.map((t: any) => t.id)).toEqual([ids[0]]);

      const repeated = await call(A, '/api/public/traces?tags=rollout_id:R&tags=even');
      expect(repeated.body.data).toHaveLength(3);
      const comma = await call(A, `/api/public/traces?tags=${encodeURIComponent('rollout_id:R,odd')}`);
      expect(comma.body.data).toHaveLength(2);
      const one = await call(A, '/api/public/traces?tags=insertion_id:3&userId=u-high&name=chat-completion');
      expect(one.body.data.map((t: any) => t.id)).toEqual([ids[3]]);
      const viaFilter = await call(
        A,
        `/api/public/traces?filter=${encodeURIComponent(tagFilter('all of', ['rollout_id:R', 'odd'], 'tags'))}`,
      );
      expect(viaFilter.body.data).toHaveLength(2);
      const asc = await call(A, '/api/public/traces?orderBy=timestamp.asc&limit=1');
      expect(asc.body.data[0].id).toBe(ids[0]);
      const fromTo = await call(
        A,
        `/api/public/traces?fromTimestamp=${new Date(base + 1000).toISOString()}&toTimestamp=${new Date(base + 3000).toISOString()}`,
      );
      expect(fromTo.body.data.map((t: any) => t.id).sort()).toEqual([ids[1], ids[2]].sort());
      const noIo = await call(A, '/api/public/traces?tags=insertion_id:0&fields=core');
      expect(noIo.body.data[0]).toMatchObject({ input: null, output: null, metadata: {}, observations: [], latency: -1, totalCost: -1 });
      const withIo = await call(A, '/api/public/traces?tags=insertion_id:0');
      expect(withIo.body.data[0].input).toEqual([{ role: 'user', content: 'hi' }]);

      expect((await call(A, '/api/public/traces?limit=101')).status).toBe(400);
      expect((await call(A, '/api/public/traces?limit=0')).status).toBe(400);
      expect((await call(A, '/api/public/traces?page=0')).status).toBe(400);
      expect((await call(A, '/api/public/traces?fromTimestamp=yesterday')).status).toBe(400);
      expect((await call(A, '/api/public/traces/does-not-exist')).body).toEqual({
        message: 'Trace does-not-exist not found within authorized project',
        error: 'LangfuseNotFoundError',
      });
    });

    it('accepts gzip bodies and base64 ids, answers 415 for protobuf and 400 for malformed exports', async () => {
      const traceId = newTraceId();
      const spanId = newSpanId();
      const payload = otlp([completionSpan(traceId, ['gz'], Date.now())]);
      (payload.resourceSpans[0].scopeSpans[0].spans[0] as any).traceId = Buffer.from(traceId, 'hex').toString('base64');
      (payload.resourceSpans[0].scopeSpans[0].spans[0] as any).spanId = Buffer.from(spanId, 'hex').toString('base64');
      const gz = await call(A, '/api/public/otel/v1/traces', {
        body: gzipSync(Buffer.from(JSON.stringify(payload))),
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      });
      expect(gz.status).toBe(200);
      const stored = fake.traces(A.projectId)[0];
      expect(stored.id).toBe(traceId);
      expect(stored.observations[0].id).toBe(spanId);

      const proto = await call(A, '/api/public/otel/v1/traces', {
        body: Buffer.from([1, 2, 3]),
        headers: { 'content-type': 'application/x-protobuf' },
      });
      expect(proto.status).toBe(415);
      expect(proto.body.message).toMatch(/OTLP\/HTTP JSON/);

      const bad = await call(A, '/api/public/otel/v1/traces', {
        body: { resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'no ids' }] }] }] },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatch(/traceId:absent/);
      expect((await call(A, '/api/public/otel/v1/traces', { body: Buffer.from('{'), headers: { 'content-type': 'application/json' } })).status).toBe(400);
      expect((await call(A, '/api/public/otel/v1/traces', { body: { resourceSpans: [] } })).body).toEqual({});
    });
  });

  describe('v2 observations', () => {
    it('filters by trace tags with the real filter syntax and pages with cursors', async () => {
      const base = Date.UTC(2026, 1, 1);
      const rolloutSpans: SpanSpec[] = [];
      for (let i = 0; i < 7; i++) {
        rolloutSpans.push(completionSpan(newTraceId(), ['rollout_id:R7', `insertion_id:${i}`], base + (i % 3) * 1000));
      }
      await ingest(A, rolloutSpans);
      await ingest(A, [completionSpan(newTraceId(), ['rollout_id:OTHER'], base)]);
      await ingest(B, [completionSpan(newTraceId(), ['rollout_id:R7'], base)]);

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const res = await v2(A, {
          filter: tagFilter('all of', ['rollout_id:R7']),
          fields: 'core,basic,io,trace_context',
          limit: '3',
          ...(cursor ? { cursor } : {}),
        });
        expect(res.status).toBe(200);
        pages++;
        for (const o of res.body.data) {
          expect(o.tags).toContain('rollout_id:R7');
          expect(o.projectId).toBe(A.projectId);
          seen.push(o.id);
        }
        cursor = res.body.meta.cursor;
        if (cursor) expect(res.body.data).toHaveLength(3);
      } while (cursor);
      expect(pages).toBe(3);
      expect(new Set(seen).size).toBe(7);
      expect(seen.sort()).toEqual(rolloutSpans.map((s) => s.spanId).sort());

      const firstPage = await v2(A, { filter: tagFilter('all of', ['rollout_id:R7']), limit: '7' });
      const starts = firstPage.body.data.map((o: any) => Date.parse(o.startTime));
      expect([...starts].sort((a, b) => b - a)).toEqual(starts);
      expect(firstPage.body.meta).toEqual({});

      const anyOf = await v2(A, { filter: tagFilter('any of', ['insertion_id:1', 'insertion_id:2'], 'tags') });
      expect(anyOf.body.data).toHaveLength(2);
      const noneOf = await v2(A, { filter: tagFilter('none of', ['rollout_id:R7']) });
      expect(noneOf.body.data.map((o: any) => o.id)).toHaveLength(1);
      const both = await v2(A, { filter: tagFilter('all of', ['rollout_id:R7', 'insertion_id:4']) });
      expect(both.body.data).toHaveLength(1);
    });

    it('returns the real v2 field groups, raw-string io and query-param filters', async () => {
      const traceId = newTraceId();
      const t0 = Date.UTC(2026, 1, 2, 8);
      const span = completionSpan(traceId, ['rollout_id:F'], t0, {
        'langfuse.observation.metadata.long': 'x'.repeat(250),
        'langfuse.observation.metadata.small': 'ok',
        'langfuse.observation.completion_start_time': new Date(t0 + 200).toISOString(),
        'langfuse.observation.cost_details': JSON.stringify({ input: 0.5, output: 0.25 }),
        'langfuse.release': 'r-2',
        'session.id': 's-9',
      });
      await ingest(A, [span]);

      const def = await v2(A, { traceId });
      expect(def.status).toBe(200);
      const d = def.body.data[0];
      expect(Object.keys(d).sort()).toEqual(
        [
          'id', 'traceId', 'startTime', 'endTime', 'projectId', 'parentObservationId', 'type',
          'name', 'level', 'statusMessage', 'version', 'environment', 'bookmarked', 'public', 'userId', 'sessionId',
          'isRootObservation', 'latency', 'timeToFirstToken', 'modelId', 'inputPrice', 'outputPrice', 'totalPrice',
        ].sort(),
      );
      expect(d).toMatchObject({
        id: span.spanId,
        traceId,
        type: 'GENERATION',
        name: 'chat.completions',
        parentObservationId: null,
        isRootObservation: true,
        sessionId: 's-9',
        environment: 'default',
        latency: 0.8,
        timeToFirstToken: 0.2,
        modelId: null,
      });

      const full = await v2(A, {
        traceId,
        fields: 'core,io,metadata,model,usage,prompt,time,trace_context,bogus',
        expandMetadata: 'long',
      });
      const f = full.body.data[0];
      expect(f.name).toBeUndefined(); // basic not requested
      expect(f.input).toBe(JSON.stringify([{ role: 'user', content: 'hi' }])); // raw string in v2
      expect(f.output).toBe(JSON.stringify({ role: 'assistant', content: 'hello' }));
      expect(f).toMatchObject({
        model: 'accounts/fireworks/models/llama',
        modelParameters: {},
        usageDetails: { input: 12, output: 5, total: 17 },
        costDetails: { input: 0.5, output: 0.25, total: 0.75 },
        totalCost: 0.75,
        promptName: null,
        completionStartTime: new Date(t0 + 200).toISOString(),
        traceName: 'chat-completion',
        tags: ['rollout_id:F'],
        release: 'r-2',
      });
      expect(f.providedModelName).toBeUndefined();
      expect(f.metadata.long).toHaveLength(250);
      expect(f.metadata.small).toBe('ok');
      expect(f.metadata['resourceAttributes.service.name']).toBe('gateway-test');
      const truncated = await v2(A, { traceId, fields: 'metadata' });
      expect(truncated.body.data[0].metadata.long).toHaveLength(200);

      expect((await v2(A, { type: 'GENERATION', sessionId: 's-9' })).body.data).toHaveLength(1);
      expect((await v2(A, { type: 'SPAN', traceId })).body.data).toHaveLength(0);
      expect((await v2(A, { name: 'nope' })).body.data).toHaveLength(0);
      expect((await v2(A, { fromStartTime: new Date(t0 + 1).toISOString() })).body.data).toHaveLength(0);
      expect((await v2(A, { toStartTime: new Date(t0 + 1).toISOString() })).body.data).toHaveLength(1);
      expect((await v2(A, { environment: ['prod', 'default'] })).body.data).toHaveLength(1);
      expect((await v2(A, { isRootObservation: 'true' })).body.data).toHaveLength(1);
      // A `filter` condition on the same column replaces the simple param.
      const overridden = await v2(A, {
        type: 'SPAN',
        filter: JSON.stringify([{ type: 'string', column: 'type', operator: '=', value: 'GENERATION' }]),
      });
      expect(overridden.body.data).toHaveLength(1);
      const io = await v2(A, {
        filter: JSON.stringify([{ type: 'string', column: 'output', operator: 'matches', value: 'HELLO' }]),
      });
      expect(io.body.data).toHaveLength(1);
    });

    it('validates like the real endpoint', async () => {
      expect((await v2(A, { limit: '1001' })).status).toBe(400);
      expect((await v2(A, { limit: '1000' })).status).toBe(200);
      const badCursor = await v2(A, { cursor: 'not-a-cursor' });
      expect(badCursor.status).toBe(400);
      expect(JSON.stringify(badCursor.body)).toContain('Invalid cursor format');
      expect((await v2(A, { parseIoAsJson: 'true' })).status).toBe(400);
      expect((await v2(A, { type: 'generation' })).status).toBe(400);
      expect((await v2(A, { filter: 'not json' })).body).toEqual({
        message: 'Invalid JSON in filter parameter',
        error: 'InvalidRequestError',
      });
      expect((await v2(A, { filter: JSON.stringify([{ type: 'arrayOptions', column: 'traceTags', operator: 'contains', value: ['a'] }]) })).status).toBe(400);
      expect((await v2(A, { filter: JSON.stringify([{ type: 'string', column: 'traceTags', operator: '=', value: 'a' }]) })).status).toBe(400);
      expect((await v2(A, { filter: JSON.stringify([{ type: 'string', column: 'nope', operator: '=', value: 'a' }]) })).status).toBe(400);
      expect((await v2(A, { filter: JSON.stringify([{ type: 'string', column: 'input', operator: 'contains', value: 'a' }]) })).status).toBe(400);
    });
  });

  describe('auth and isolation', () => {
    it('rejects missing or wrong keys with 401 JSON and isolates projects', async () => {
      const traceId = newTraceId();
      await ingest(A, [completionSpan(traceId, ['iso'], Date.now())]);

      const none = await call(null, '/api/public/traces');
      expect(none).toMatchObject({ status: 401, body: { message: 'No authorization header' } });
      const wrong = await call({ ...A, secretKey: 'nope' }, '/api/public/v2/observations');
      expect(wrong.status).toBe(401);
      expect(wrong.body.message).toMatch(/Invalid credentials/);
      const crossed = await call({ ...A, secretKey: B.secretKey }, '/api/public/traces');
      expect(crossed.status).toBe(401);
      expect((await call(null, '/api/public/otel/v1/traces', { body: otlp([]) })).status).toBe(401);

      expect((await call(B, `/api/public/traces/${traceId}`)).status).toBe(404);
      expect((await call(B, '/api/public/traces?tags=iso')).body.data).toEqual([]);
      expect((await v2(B, { traceId })).body.data).toEqual([]);
      expect((await call(A, `/api/public/traces/${traceId}`)).status).toBe(200);

      expect((await call(B, '/api/public/projects')).body).toEqual({
        data: [{ id: B.projectId, name: B.projectId, organization: { id: 'fake-org', name: 'Fake Organization' }, metadata: {} }],
      });
      const health = await call(null, '/api/public/health');
      expect(health.status).toBe(200);
      expect(health.body.status).toBe('OK');
      expect((await call(A, '/api/public/ingestion', { body: { batch: [] } })).status).toBe(404);
      expect((await call(A, '/api/public/sessions')).status).toBe(404);
      expect(fake.calls.some((c) => c.status === 401 && c.projectId === undefined)).toBe(true);
      expect(fake.calls.filter((c) => c.projectId === B.projectId).length).toBeGreaterThan(0);
    });
  });

  describe('knobs', () => {
    it('visibilityDelayMs hides fresh data from every read', async () => {
      fake.options.visibilityDelayMs = 400;
      const traceId = newTraceId();
      await ingest(A, [completionSpan(traceId, ['vis'], Date.now())]);
      expect((await call(A, `/api/public/traces/${traceId}`)).status).toBe(404);
      expect((await call(A, '/api/public/traces?tags=vis')).body.data).toEqual([]);
      expect((await v2(A, { traceId })).body.data).toEqual([]);
      expect(fake.traces(A.projectId)).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 450));
      expect((await call(A, `/api/public/traces/${traceId}`)).status).toBe(200);
      expect((await v2(A, { traceId })).body.data).toHaveLength(1);
    });

    it('rateLimit answers 429 with Retry-After per project and recovers after the window', async () => {
      fake.options.rateLimit = { maxCalls: 2, windowMs: 300, retryAfterSeconds: 7 };
      expect((await v2(A, {})).status).toBe(200);
      expect((await call(A, '/api/public/traces')).status).toBe(200);
      const limited = await v2(A, {});
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('7');
      expect(limited.body).toMatchObject({ message: 'Rate limit exceeded', code: 'rate_limited', details: { retryAfterSeconds: 7, limit: 2 } });
      expect((await v2(B, {})).status).toBe(200); // other project has its own window
      expect((await ingest(A, [completionSpan(newTraceId(), ['rl'], Date.now())])).status).toBe(200); // writes not limited
      await new Promise((r) => setTimeout(r, 320));
      expect((await v2(A, {})).status).toBe(200);
    });

    it('fail5xxNext fails the next N reads, latencyMs delays responses', async () => {
      fake.options.fail5xxNext = 2;
      expect((await v2(A, {})).status).toBe(503);
      expect((await call(A, '/api/public/traces')).status).toBe(500);
      expect((await v2(A, {})).status).toBe(200);
      expect(fake.options.fail5xxNext).toBe(0);

      fake.options.latencyMs = 150;
      const started = Date.now();
      expect((await call(null, '/api/public/health')).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    });

    it('mode v3 hides v2 observations; v4-events-only hides legacy trace reads', async () => {
      const traceId = newTraceId();
      await ingest(A, [completionSpan(traceId, ['mode'], Date.now())]);
      fake.options.mode = 'v3';
      const v2Res = await v2(A, {});
      expect(v2Res.status).toBe(404);
      expect(v2Res.body.message).toMatch(/only available in a Langfuse v4/);
      expect((await call(A, `/api/public/traces/${traceId}`)).status).toBe(200);

      fake.options.mode = 'v4-events-only';
      expect((await call(A, '/api/public/traces')).status).toBe(404);
      expect((await call(A, `/api/public/traces/${traceId}`)).status).toBe(404);
      expect((await v2(A, { traceId })).body.data).toHaveLength(1);
    });

    it('withhold() makes matching traces disappear from every read', async () => {
      const lost = newTraceId();
      const kept = newTraceId();
      await ingest(A, [completionSpan(lost, ['rollout_id:W', 'insertion_id:lost'], Date.now()), completionSpan(kept, ['rollout_id:W'], Date.now())]);
      fake.withhold((t) => t.tags.includes('insertion_id:lost'));
      expect((await call(A, '/api/public/traces?tags=rollout_id:W')).body.data.map((t: any) => t.id)).toEqual([kept]);
      expect((await call(A, `/api/public/traces/${lost}`)).status).toBe(404);
      expect((await v2(A, { filter: tagFilter('all of', ['rollout_id:W']) })).body.data.map((o: any) => o.traceId)).toEqual([kept]);
      expect(fake.traces(A.projectId)).toHaveLength(2);
    });
  });

  describe('real @langfuse/otel SDK export', () => {
    /**
     * Plain-JS scenario run both in a child node process (always) and inside jest (only when
     * jest runs with --experimental-vm-modules: the OTLP exporter loads node's http through a
     * dynamic import(), which jest's CommonJS VM rejects otherwise and the export then fails).
     */
    const SDK_SCENARIO = `async (require, args) => {
      const { context, trace } = require('@opentelemetry/api');
      const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
      const { LangfuseSpanProcessor } = require('@langfuse/otel');
      const processor = new LangfuseSpanProcessor({
        baseUrl: args.url, publicKey: args.publicKey, secretKey: args.secretKey,
        environment: 'e2e', release: 'gw-1.2.3',
      });
      const provider = new BasicTracerProvider({ spanProcessors: [processor] });
      // Default export filter: spans of the "langfuse-sdk" tracer, spans with gen_ai.* attributes and
      // known LLM instrumentations are exported; anything else is dropped before export.
      const tracer = provider.getTracer('metadata-gateway', '0.1.0');
      const root = tracer.startSpan('chat.completions', { attributes: {
        'langfuse.observation.type': 'generation',
        'langfuse.trace.name': 'gateway-completion',
        'langfuse.trace.tags': args.tags,
        'langfuse.observation.input': JSON.stringify([{ role: 'user', content: 'ping' }]),
        'gen_ai.request.model': 'fireworks_ai/accounts/fireworks/models/x',
        'gen_ai.usage.input_tokens': 3,
        'gen_ai.usage.output_tokens': 2,
      } });
      const child = tracer.startSpan('tool-call',
        { attributes: { 'gen_ai.tool.name': 'lookup', 'langfuse.trace.tags': args.tags } },
        trace.setSpan(context.active(), root));
      child.end();
      tracer.startSpan('not-exported-plain-span').end();
      root.setAttribute('langfuse.observation.output', JSON.stringify({ role: 'assistant', content: 'pong' }));
      root.end();
      await provider.forceFlush();
      await provider.shutdown();
      return { traceId: root.spanContext().traceId, rootId: root.spanContext().spanId, childId: child.spanContext().spanId };
    }`;
    type SdkIds = { traceId: string; rootId: string; childId: string };

    function runScenarioInChildProcess(args: Record<string, unknown>): Promise<SdkIds> {
      const script = `(${SDK_SCENARIO})(require, JSON.parse(process.env.SDK_ARGS))
        .then((ids) => process.stdout.write(JSON.stringify(ids)))
        .catch((err) => { console.error(err); process.exit(1); });`;
      return new Promise((resolve, reject) => {
        execFile(
          process.execPath,
          ['-e', script],
          { cwd: path.resolve(__dirname, '../..'), env: { ...process.env, NODE_OPTIONS: '', SDK_ARGS: JSON.stringify(args) } },
          (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as SdkIds)),
        );
      });
    }

    async function expectSdkExportMapped(project: FakeLangfuseProject, ids: SdkIds, tags: string[]) {
      const otelCalls = fake.calls.filter((c) => c.path === '/api/public/otel/v1/traces');
      expect(otelCalls.length).toBeGreaterThan(0);
      expect(otelCalls.every((c) => c.status === 200 && c.projectId === project.projectId)).toBe(true);

      const stored = fake.traces(project.projectId);
      expect(stored.map((t) => t.id)).toEqual([ids.traceId]);
      expect(stored[0].observations).toHaveLength(2); // the plain span was dropped by the SDK's export filter

      const list = await call(project, `/api/public/traces?tags=${encodeURIComponent(tags[0])}&tags=${encodeURIComponent(tags[1])}`);
      expect(list.body.data).toHaveLength(1);
      expect(list.body.data[0]).toMatchObject({
        id: ids.traceId,
        name: 'gateway-completion',
        tags: [...tags].sort(),
        environment: 'e2e',
        release: 'gw-1.2.3',
        input: [{ role: 'user', content: 'ping' }],
        output: { role: 'assistant', content: 'pong' },
      });

      const obs = await v2(project, { filter: tagFilter('all of', [tags[0]]), fields: 'core,basic,io,model,usage,trace_context' });
      expect(obs.status).toBe(200);
      const gen = obs.body.data.find((o: any) => o.id === ids.rootId);
      expect(gen).toMatchObject({
        traceId: ids.traceId,
        type: 'GENERATION',
        parentObservationId: null,
        isRootObservation: true,
        environment: 'e2e',
        model: 'fireworks_ai/accounts/fireworks/models/x',
        usageDetails: { input: 3, output: 2, total: 5 },
        input: JSON.stringify([{ role: 'user', content: 'ping' }]),
        output: JSON.stringify({ role: 'assistant', content: 'pong' }),
        traceName: 'gateway-completion',
        tags,
        release: 'gw-1.2.3',
      });
      const tool = obs.body.data.find((o: any) => o.id === ids.childId);
      expect(tool).toMatchObject({ type: 'TOOL', name: 'lookup', parentObservationId: ids.rootId, isRootObservation: false });
    }

    it('LangfuseSpanProcessor (child node process) exports into the fake and spans map to traces/observations', async () => {
      const tags = ['rollout_id:sdk-r', 'insertion_id:sdk-i', 'row_id:w7'];
      const ids = await runScenarioInChildProcess({ url: fake.url, publicKey: B.publicKey, secretKey: B.secretKey, tags });
      await expectSdkExportMapped(B, ids, tags);
    });

    const vmModules =
      process.execArgv.some((a) => a.includes('experimental-vm-modules')) ||
      (process.env.NODE_OPTIONS ?? '').includes('experimental-vm-modules');
    (vmModules ? it : it.skip)('LangfuseSpanProcessor in-process (needs NODE_OPTIONS=--experimental-vm-modules)', async () => {
      const tags = ['rollout_id:sdk-in', 'insertion_id:sdk-in-i'];
      const scenario = new Function(`return ${SDK_SCENARIO}`)() as (req: NodeRequire, args: unknown) => Promise<SdkIds>;
      const ids = await scenario(require, { url: fake.url, publicKey: A.publicKey, secretKey: A.secretKey, tags });
      await expectSdkExportMapped(A, ids, tags);
    });
  });
});
