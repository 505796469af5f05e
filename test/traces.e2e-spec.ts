/**
 * /traces end to end: the trace-retrieval module in a Nest app over real
 * HTTP, real Redis for the recorded ids, and the fake Langfuse server fed
 * OTLP/HTTP JSON spans shaped like the gateway's. Both Langfuse API generations, auto-detection,
 * visibility delays, lost traces, rate limits and 5xx.
 */
import { ForbiddenException, INestApplication, Injectable, Logger, Type } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { createObservationAttributes, createTraceAttributes, LangfuseOtelSpanAttributes } from '@langfuse/tracing';
import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { RolloutTracker } from '@app/completeness-tracking';
import { GatewayExceptionFilter } from '@app/gateway';
import { PreprocessedTracesRequest, TraceRetrievalModule, TraceRetrievalService, TracesQuery, TracesRequestContext, TracesRequestPreprocessor } from '@app/trace-retrieval';
import { FakeLangfuse, FakeLangfuseOptions, startFakeLangfuse } from './fakes/fake-langfuse.server';
import { sharedModules } from './support/modules';
import { testRedisUrl } from './support/redis';
import { CapturingLogger, writeSecrets } from './support/gateway';

Logger.overrideLogger(['error']);

/** A rollout of a project (proj-a unless said): recorded ids are kept per project. */
const inProject = (rolloutId: string, projectId = 'proj-a') => ({ projectId, rolloutId });

const PROJECT_A = { projectId: 'proj-a', publicKey: 'pk-lf-e2e-a', secretKey: 'sk-lf-e2e-SECRET-a' };
const PROJECT_B = { projectId: 'proj-b', publicKey: 'pk-lf-e2e-b', secretKey: 'sk-lf-e2e-SECRET-b' };
/** Configured in the gateway, unknown to Langfuse: its reads get 401. */
const PROJECT_BAD = { projectId: 'proj-bad', publicKey: 'pk-lf-e2e-bad', secretKey: 'sk-lf-e2e-SECRET-bad' };
const SECRET_STRINGS = [PROJECT_A.secretKey, PROJECT_B.secretKey, PROJECT_BAD.secretKey];

/** Every response body any test saw, checked for secrets and Langfuse hosts at the end. */
const bodies: string[] = [];
/** host:port of every fake Langfuse: configured per project, never to be shown to a client. */
const langfuseHosts: string[] = [];
/** Every log line of every app (Nest's logger is static: all apps write here). */
const logs: string[] = [];

interface App {
  url: string;
  app: INestApplication;
  tracker: RolloutTracker;
  traces: TraceRetrievalService;
  close(): Promise<void>;
}

interface AppOptions {
  /** More top-level YAML for the secrets file (e.g. api_keys). */
  secretsExtra?: string;
  /** Replaces the pass-through TracesRequestPreprocessor. */
  preprocessor?: Type<TracesRequestPreprocessor>;
}

async function startApp(fake: FakeLangfuse, settings: Record<string, string> = {}, options: AppOptions = {}): Promise<App> {
  const secrets = writeSecrets(`
langfuse_keys:
${[PROJECT_A, PROJECT_B, PROJECT_BAD].map((p) => `  ${p.projectId}: { public_key: ${p.publicKey}, secret_key: ${p.secretKey}, host: "${fake.url}" }`).join('\n')}
default_project_id: proj-a
${options.secretsExtra ?? ''}
`);
  const { settings: config, vault, tracking, auth } = sharedModules({
    SECRETS_PATH: secrets,
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: `traces-e2e-${randomUUID().slice(0, 8)}`,
    LANGFUSE_COMPLETENESS_BACKOFF_MS: '250',
    ...settings,
  });
  const moduleRef = await Test.createTestingModule({
    imports: [auth, TraceRetrievalModule.forRoot({ settings: config, vault, auth, tracking, preprocessor: options.preprocessor })],
  })
    .setLogger(new CapturingLogger(logs))
    .compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>();
  app.set('query parser', 'extended');
  app.useGlobalFilters(new GatewayExceptionFilter());
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, app, tracker: app.get(RolloutTracker), traces: app.get(TraceRetrievalService), close: () => app.close() };
}

type OtlpValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean } | { arrayValue: { values: OtlpValue[] } };

function otlpValue(v: unknown): OtlpValue {
  if (Array.isArray(v)) return { arrayValue: { values: v.map(otlpValue) } };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  return { stringValue: typeof v === 'string' ? v : JSON.stringify(v) };
}

const nanos = (ms: number) => (BigInt(ms) * 1_000_000n).toString();

/**
 * Writes traces the way the gateway does — one span per completion with the
 * attributes @langfuse/tracing's builders make — as OTLP/HTTP JSON to the
 * fake's ingestion endpoint. (The OTel exporter itself cannot run under
 * jest: it loads node:http with a dynamic import().)
 */
class Seeder {
  constructor(
    private readonly fake: FakeLangfuse,
    private readonly project: { projectId: string; publicKey: string; secretKey: string },
  ) {}

  /** n completions of a rollout, oldest first (1 ms apart), recorded in the tracker when given; returns their insertion ids. */
  async seed(rollout: string, n: number, tracker?: RolloutTracker, options: { startMs?: number; release?: string } = {}): Promise<string[]> {
    const ids: string[] = [];
    const spans: unknown[] = [];
    const start = options.startMs ?? Date.now() - 60_000;
    for (let i = 0; i < n; i++) {
      const insertionId = uuidv7();
      ids.push(insertionId);
      const row = `row-${i}`;
      const tags = [`rollout_id:${rollout}`, `insertion_id:${insertionId}`, 'invocation_id:inv-1', 'experiment_id:exp-1', 'run_id:run-1', `row_id:${row}`];
      const input = { messages: [{ role: 'user', content: `question ${i}` }] };
      const output = { role: 'assistant', content: `answer ${i}` };
      const metadata = { rollout_id: rollout, insertion_id: insertionId, row_id: row };
      const attributes: Record<string, unknown> = {
        [LangfuseOtelSpanAttributes.TRACE_NAME]: 'chat-completion',
        [LangfuseOtelSpanAttributes.TRACE_TAGS]: tags,
        ...Object.fromEntries(Object.entries(metadata).map(([k, v]) => [`${LangfuseOtelSpanAttributes.TRACE_METADATA}.${k}`, v])),
        ...createTraceAttributes({ input, output }),
        ...createObservationAttributes('generation', { input, output, model: 'test-model', metadata }),
        ...(options.release ? { 'langfuse.release': options.release } : {}),
      };
      spans.push({
        traceId: randomUUID().replace(/-/g, ''),
        spanId: randomUUID().replace(/-/g, '').slice(0, 16),
        name: 'chat-completion',
        kind: 1,
        startTimeUnixNano: nanos(start + i),
        endTimeUnixNano: nanos(start + i + 1),
        attributes: Object.entries(attributes)
          .filter(([, v]) => v !== undefined)
          .map(([key, value]) => ({ key, value: otlpValue(value) })),
        status: { code: 1 },
      });
    }
    const res = await fetch(`${this.fake.url}/api/public/otel/v1/traces`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${this.project.publicKey}:${this.project.secretKey}`).toString('base64')}`,
      },
      body: JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'metadata-gateway' } }] },
            scopeSpans: [{ scope: { name: 'langfuse-sdk', version: '5.11.1' }, spans }],
          },
        ],
      }),
    });
    expect(res.status).toBe(200);
    if (tracker) for (const id of ids) await tracker.record(inProject(rollout, this.project.projectId), id);
    return ids;
  }
}

async function get(app: App, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`${app.url}${path}`, { headers });
  const text = await res.text();
  bodies.push(text);
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
}

const rid = () => `r-${randomUUID()}`;
const readCalls = (fake: FakeLangfuse) => fake.calls.filter((c) => c.method === 'GET');
const paths = (fake: FakeLangfuse) => [...new Set(readCalls(fake).map((c) => c.path.replace(/\/api\/public\/traces\/[^/]+$/, '/api/public/traces/{id}')))].sort();

async function startFake(options: Partial<FakeLangfuseOptions> = {}): Promise<FakeLangfuse> {
  const fake = await startFakeLangfuse({ projects: [PROJECT_A, PROJECT_B], ...options });
  langfuseHosts.push(new URL(fake.url).host);
  return fake;
}

/** The answer names the project but not where its Langfuse is; the gateway's log line does. */
function expectHostOnlyInLog(fake: FakeLangfuse, res: { text: string; body: any }, logsBefore: number, project = 'proj-a') {
  const host = new URL(fake.url).host;
  expect(res.text).not.toContain(host);
  expect(res.body.detail).toContain(`project "${project}"`);
  expect(logs.slice(logsBefore).filter((l) => l.includes('langfuse_unavailable')).join('\n')).toContain(`Langfuse host of project ${project}: ${fake.url}`);
}

describe('a v4 Langfuse read through v2, legacy and auto', () => {
  let fake: FakeLangfuse;
  let seeder: Seeder;
  let auto: App;
  let v2: App;
  let legacy: App;

  beforeAll(async () => {
    fake = await startFake();
    seeder = new Seeder(fake, PROJECT_A);
    // one at a time: startApp sets process.env around the module compile
    auto = await startApp(fake);
    v2 = await startApp(fake, { LANGFUSE_READ_API: 'v2' });
    legacy = await startApp(fake, { LANGFUSE_READ_API: 'legacy' });
  });
  afterAll(async () => {
    await Promise.all([auto, v2, legacy].map((a) => a?.close()));
    await fake?.close();
  });

  async function seeded(n: number, apps: App[] = [auto, v2, legacy]): Promise<{ rollout: string; ids: string[] }> {
    const rollout = rid();
    const ids = await seeder.seed(rollout, n);
    for (const app of apps) for (const id of ids) await app.tracker.record(inProject(rollout), id);
    fake.calls.length = 0;
    return { rollout, ids };
  }

  it('a complete rollout gives the same body on v2 and on legacy, in the documented shape', async () => {
    const { rollout, ids } = await seeded(5);
    const fromV2 = await get(v2, `/traces?tags=rollout_id:${rollout}`);
    expect(fromV2.status).toBe(200);
    expect(paths(fake)).toEqual(['/api/public/v2/observations']);
    expect(readCalls(fake)).toHaveLength(1);

    fake.calls.length = 0;
    const fromLegacy = await get(legacy, `/traces?tags=rollout_id:${rollout}`);
    expect(fromLegacy.status).toBe(200);
    expect(paths(fake)).toEqual(['/api/public/traces', '/api/public/traces/{id}']);

    expect(fromLegacy.body).toEqual(fromV2.body);
    const body = fromV2.body;
    expect(Object.keys(body).sort()).toEqual(['project_id', 'total_traces', 'traces']);
    expect(body.project_id).toBe('proj-a');
    expect(body.total_traces).toBe(5);
    // Newest first: the oldest, question 0, is last.
    const first = body.traces[body.traces.length - 1];
    expect(Object.keys(first).sort()).toEqual(['id', 'input', 'metadata', 'name', 'observations', 'output', 'session_id', 'tags', 'timestamp', 'user_id']);
    expect(Object.keys(first.observations[0]).sort()).toEqual(['end_time', 'id', 'input', 'name', 'output', 'parent_observation_id', 'start_time', 'type']);
    expect(first).toMatchObject({
      name: 'chat-completion',
      input: { messages: [{ role: 'user', content: 'question 0' }] },
      output: { role: 'assistant', content: 'answer 0' },
      observations: [{ type: 'GENERATION', input: { messages: [{ role: 'user', content: 'question 0' }] }, output: { role: 'assistant', content: 'answer 0' }, parent_observation_id: null }],
    });
    expect(first.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(first.tags).toEqual(expect.arrayContaining([`rollout_id:${rollout}`, `insertion_id:${ids[0]}`, 'row_id:row-0']));
    // newest first, as the original
    expect(body.traces.map((t: any) => t.tags.find((x: string) => x.startsWith('insertion_id:')))).toEqual(ids.map((id) => `insertion_id:${id}`).reverse());

    // auto picks v2 on a v4 server, without an extra probe call
    fake.calls.length = 0;
    const fromAuto = await get(auto, `/v1/traces?tags=rollout_id:${rollout}`);
    expect(fromAuto.body).toEqual(fromV2.body);
    expect(readCalls(fake)).toHaveLength(1);
  });

  it('serves all eight routes', async () => {
    const { rollout, ids } = await seeded(2);
    for (const base of ['/traces', '/v1/traces', '/project_id/proj-a/traces', '/v1/project_id/proj-a/traces']) {
      const full = await get(auto, `${base}?tags=rollout_id:${rollout}`);
      expect([base, full.status, full.body.total_traces]).toEqual([base, 200, 2]);
      const pointwise = await get(auto, `${base}/pointwise?tags=rollout_id:${rollout}`);
      expect([base, pointwise.status, pointwise.body.total_traces]).toEqual([base, 200, 1]);
      expect(pointwise.body.traces[0].tags).toContain(`insertion_id:${ids[1]}`);
    }
  });

  it('pointwise returns the newest completion (UUIDv7 order), reading only that one', async () => {
    const rollout = rid();
    // Written newest-id-first, so the newest id has the oldest timestamp: pointwise goes by id, not by time.
    const ids = await seeder.seed(rollout, 4, undefined, { startMs: Date.now() - 10_000 });
    const newest = [...ids].sort().pop()!;
    for (const app of [v2, legacy]) for (const id of ids) await app.tracker.record(inProject(rollout), id);
    for (const app of [v2, legacy]) {
      fake.calls.length = 0;
      const res = await get(app, `/v1/traces/pointwise?limit=100&tags=rollout_id:${rollout}&sleep_between_gets=0.1&max_retries=5&include_payloads=True`);
      expect(res.status).toBe(200);
      expect(res.body.total_traces).toBe(1);
      expect(res.body.traces[0].tags).toContain(`insertion_id:${newest}`);
      expect(readCalls(fake).length).toBeLessThanOrEqual(2);
    }
  });

  it('waits while traces are not visible yet, then answers complete', async () => {
    fake.options.visibilityDelayMs = 1_200;
    try {
      for (const app of [v2, legacy]) {
        const { rollout } = await seeded(3, [app]);
        const started = Date.now();
        const res = await get(app, `/traces?tags=rollout_id:${rollout}&max_retries=5`);
        expect(res.status).toBe(200);
        expect(res.body.total_traces).toBe(3);
        expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
        // the first read found nothing; later rounds asked again (v2: for the missing insertion ids only)
        const lists = readCalls(fake).filter((c) => c.path !== '/api/public/traces/{id}' && !/traces\/./.test(c.path));
        expect(lists.length).toBeGreaterThan(1);
        if (app === v2) expect(String(lists[lists.length - 1].query.filter)).toContain('"operator":"any of","value":["insertion_id:');
      }
    } finally {
      fake.options.visibilityDelayMs = 0;
    }
  });

  it('a lost trace → 404 naming found/expected, on both generations', async () => {
    const { rollout, ids } = await seeded(5);
    const lost = ids[2];
    fake.withhold((t) => t.tags.includes(`insertion_id:${lost}`));
    for (const app of [v2, legacy]) {
      const res = await get(app, `/traces?tags=rollout_id:${rollout}&max_retries=1`);
      expect(res.status).toBe(404);
      expect(res.body.detail).toMatch(/^Incomplete traces: found 4 of 5 expected/);
      expect(res.body.error).toMatchObject({ code: 'incomplete_traces', found: 4, expected: 5, missing_insertion_ids: [lost] });
    }
  });

  it('passes the Langfuse filters through on both generations', async () => {
    const { rollout } = await seeded(3);
    const query = `tags=rollout_id:${rollout}&tags=experiment_id:exp-1&name=chat-completion&environment=default&hours_back=1`;
    const a = await get(v2, `/traces?${query}`);
    const b = await get(legacy, `/traces?${query}`);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.total_traces).toBe(3);
    expect(b.body).toEqual(a.body);
    const none = await get(v2, `/traces?tags=rollout_id:${rollout}&name=other&max_retries=0`);
    expect(none.status).toBe(404);
    expect(none.body.detail).toContain("the query's other tags or filters may exclude some of the completions");
  });

  it('release filters on both generations (v2 has no release filter: matched in the gateway, never a 5xx)', async () => {
    const rollout = rid();
    const inRelease = await seeder.seed(rollout, 2, undefined, { release: 'rel-1' });
    const other = await seeder.seed(rollout, 1, undefined, { release: 'rel-2' });
    for (const app of [auto, v2, legacy]) for (const id of [...inRelease, ...other]) await app.tracker.record(inProject(rollout), id);
    for (const app of [v2, legacy]) {
      // A rollout read narrowed to a release it only partly has: incomplete (404), not a 502.
      const narrowed = await get(app, `/traces?tags=rollout_id:${rollout}&release=rel-1&max_retries=1`);
      expect(narrowed.status).toBe(404);
      expect(narrowed.body.detail).toMatch(/^Incomplete traces: found 2 of 3 expected/);
      // A tag read narrowed to the release: only its traces.
      const tagged = await get(app, `/traces?tags=experiment_id:exp-1&tags=run_id:run-1&tags=rollout_id:${rollout}&release=rel-2&max_retries=1`);
      expect(tagged.status).toBe(404);
      const byTag = await get(app, `/traces?tags=${encodeURIComponent(`insertion_id:${other[0]}`)}&release=rel-2`);
      expect([byTag.status, byTag.body.total_traces]).toEqual([200, 1]);
      const none = await get(app, `/traces?tags=${encodeURIComponent(`insertion_id:${other[0]}`)}&release=rel-1`);
      expect([none.status, none.body.total_traces]).toEqual([200, 0]);
    }
  });

  it('sample_size samples after completeness holds', async () => {
    const { rollout } = await seeded(6);
    const res = await get(v2, `/traces?tags=rollout_id:${rollout}&sample_size=2`);
    expect(res.status).toBe(200);
    expect(res.body.total_traces).toBe(2);
  });

  it('fields never narrows the answer: every trace with input, output and observations, on both generations', async () => {
    const { rollout } = await seeded(3);
    const a = await get(v2, `/traces?tags=rollout_id:${rollout}&fields=core`);
    const b = await get(legacy, `/traces?tags=rollout_id:${rollout}&fields=core,io`);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(b.body).toEqual(a.body);
    const oldest = a.body.traces[2];
    expect(oldest.observations).toHaveLength(1);
    expect(oldest.input).toEqual({ messages: [{ role: 'user', content: 'question 0' }] });
    expect(oldest.output).toEqual({ role: 'assistant', content: 'answer 0' });
  });

  it('countVisible counts without reading bodies, on both generations', async () => {
    const { rollout, ids } = await seeded(4);
    fake.withhold((t) => t.tags.includes(`insertion_id:${ids[3]}`));
    for (const app of [v2, legacy]) {
      fake.calls.length = 0;
      await expect(app.traces.countVisible(undefined, rollout, [...ids, uuidv7()])).resolves.toEqual({ visible: 3, expected: 5 });
      expect(paths(fake)).not.toContain('/api/public/traces/{id}');
      expect(readCalls(fake)).toHaveLength(1);
    }
    await expect(v2.traces.countVisible('proj-a', rollout, [])).resolves.toEqual({ visible: 0, expected: 0 });
  });

  it('keeps projects apart', async () => {
    const seederB = new Seeder(fake, PROJECT_B);
    try {
      const rollout = rid();
      const ids = await seederB.seed(rollout, 2, auto.tracker);
      const fromB = await get(auto, `/project_id/proj-b/traces?tags=rollout_id:${rollout}`);
      expect(fromB.status).toBe(200);
      expect(fromB.body).toMatchObject({ project_id: 'proj-b', total_traces: 2 });
      expect(fromB.body.traces.map((t: any) => t.tags.find((x: string) => x.startsWith('insertion_id:')))).toEqual(ids.map((id) => `insertion_id:${id}`).reverse());
      // proj-a has no rollout of that id: nothing of proj-b's (ids, counts) shows through.
      const fromDefault = await get(auto, `/traces?tags=rollout_id:${rollout}&max_retries=0`);
      expect(fromDefault.status).toBe(404);
      expect(fromDefault.body.detail).toMatch(/^No traces found/);
      expect(JSON.stringify(fromDefault.body)).not.toMatch(new RegExp(ids.join('|')));
    } finally {
      // nothing to release
    }
  });

  it('400 for no tags, an empty rollout tag or a bad parameter, naming the fix', async () => {
    fake.calls.length = 0;
    const missing = await get(auto, '/traces');
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('missing_rollout_tag');
    expect(missing.body.detail).toContain('tags=rollout_id:');
    expect((await get(auto, '/v1/traces/pointwise')).status).toBe(400);
    expect((await get(auto, '/v1/traces?tags=rollout_id:')).status).toBe(400);

    const bad = await get(auto, '/traces?tags=rollout_id:r&limit=lots&max_retries=True');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_query');
    expect(bad.body.detail).toContain('limit: expected an integer');
    expect(bad.body.detail).toContain('max_retries: expected an integer between 0 and 20: Langfuse reads in all (default 3) (got "True")');

    const huge = await get(auto, '/traces?tags=rollout_id:r&sample_size=1e20&page=-5');
    expect(huge.status).toBe(400);
    expect(huge.body.error.param).toEqual(['sample_size', 'page']);
    expect(huge.body.detail).toContain('sample_size: expected an integer between 1 and 1000000 (got "1e20")');
    expect(huge.body.detail).toContain('page: expected an integer between 1 and 1000000 (ignored: the gateway reads every page itself) (got "-5")');
    expect(fake.calls.filter((c) => c.method === 'GET')).toHaveLength(0);
  });

  it('404 for an unknown project and for a rollout with nothing recorded', async () => {
    const project = await get(auto, '/project_id/nope/traces?tags=rollout_id:r');
    expect(project.status).toBe(404);
    expect(project.body.error.code).toBe('unknown_project');
    const rollout = await get(auto, `/traces?tags=rollout_id:${rid()}`);
    expect(rollout.status).toBe(404);
    expect(rollout.body.error.code).toBe('unknown_rollout');
    expect(rollout.body.detail).toMatch(/^No traces found: no completions were recorded for rollout/);
  });

  it('keys Langfuse rejects → 502 that names the project, not the key', async () => {
    const rollout = rid();
    await auto.tracker.record(inProject(rollout, 'proj-bad'), uuidv7());
    const logsBefore = logs.length;
    const res = await get(auto, `/project_id/proj-bad/traces?tags=rollout_id:${rollout}`);
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('langfuse_unavailable');
    expect(res.body.detail).toContain('rejected the API keys of project "proj-bad" (HTTP 401)');
    expect(res.body.detail).toContain("check the project's langfuse_keys and host in the gateway's secrets file");
    expectHostOnlyInLog(fake, res, logsBefore, 'proj-bad');
  });
});

describe('Langfuse under load and failure', () => {
  let fake: FakeLangfuse;
  let seeder: Seeder;
  let v2: App;
  let legacy: App;

  beforeAll(async () => {
    fake = await startFake();
    seeder = new Seeder(fake, PROJECT_A);
    v2 = await startApp(fake, { LANGFUSE_READ_API: 'v2' });
    legacy = await startApp(fake, { LANGFUSE_READ_API: 'legacy' });
  });
  afterAll(async () => {
    await Promise.all([v2, legacy].map((a) => a?.close()));
    await fake?.close();
  });
  afterEach(() => {
    fake.options.rateLimit = undefined;
    fake.options.fail5xxNext = 0;
  });

  it('a rate-limited Langfuse (429 + Retry-After) still yields the complete rollout', async () => {
    const rollout = rid();
    const ids = await seeder.seed(rollout, 12);
    for (const app of [v2, legacy]) for (const id of ids) await app.tracker.record(inProject(rollout), id);
    fake.options.rateLimit = { maxCalls: 5, windowMs: 1_000, retryAfterSeconds: 1 };
    fake.calls.length = 0;
    const res = await get(legacy, `/traces?tags=rollout_id:${rollout}`);
    expect(res.status).toBe(200);
    expect(res.body.total_traces).toBe(12);
    expect(fake.calls.filter((c) => c.status === 429).length).toBeGreaterThan(0);
    const v2res = await get(v2, `/traces?tags=rollout_id:${rollout}`);
    expect(v2res.body).toEqual(res.body);
  }, 60_000);

  it('5xx answers are retried with backoff', async () => {
    const rollout = rid();
    const ids = await seeder.seed(rollout, 3);
    for (const app of [v2, legacy]) for (const id of ids) await app.tracker.record(inProject(rollout), id);
    for (const app of [v2, legacy]) {
      fake.options.fail5xxNext = 2;
      fake.calls.length = 0;
      const res = await get(app, `/traces?tags=rollout_id:${rollout}`);
      expect(res.status).toBe(200);
      expect(res.body.total_traces).toBe(3);
      expect(fake.calls.filter((c) => c.status >= 500)).toHaveLength(2);
    }
  });

  it('a client that leaves mid-read stops the reads: no more Langfuse calls for it, on both generations', async () => {
    for (const app of [v2, legacy]) {
      const rollout = rid();
      // Recorded but never traced: the read keeps polling Langfuse until its retries run out.
      await app.tracker.record(inProject(rollout), uuidv7());
      fake.calls.length = 0;
      const abort = new AbortController();
      const pending = fetch(`${app.url}/traces?tags=rollout_id:${rollout}&max_retries=20&sleep_between_gets=0.2`, { signal: abort.signal }).catch((e: Error) => e);
      const deadline = Date.now() + 5_000;
      while (fake.calls.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      abort.abort();
      expect(await pending).toMatchObject({ name: 'AbortError' });
      await new Promise((r) => setTimeout(r, 300));
      const afterLeaving = fake.calls.length;
      await new Promise((r) => setTimeout(r, 1_000));
      // A read still polling (20 reads, 0.2 s apart) would have made about five more calls by now.
      expect(fake.calls.length).toBe(afterLeaving);
    }
  });

  it('a Langfuse too slow for LANGFUSE_READ_TIMEOUT_MS → retried, then 502 within the budget', async () => {
    const app = await startApp(fake, { LANGFUSE_READ_API: 'legacy', LANGFUSE_READ_TIMEOUT_MS: '150', LANGFUSE_READ_BUDGET_MS: '1500' });
    try {
      const rollout = rid();
      await app.tracker.record(inProject(rollout), uuidv7());
      fake.options.latencyMs = 400;
      const started = Date.now();
      const logsBefore = logs.length;
      const res = await get(app, `/traces?tags=rollout_id:${rollout}`);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(res.status).toBe(502);
      expect(res.body.detail).toContain('no answer within 150 ms (LANGFUSE_READ_TIMEOUT_MS)');
      expect(res.text).not.toContain(new URL(fake.url).host);
      expect(logs.slice(logsBefore).join('\n')).toContain(`(project proj-a at ${fake.url}) failed`);
    } finally {
      fake.options.latencyMs = 0;
      await app.close();
    }
  });

  it('a Langfuse that stays down → 502 within the budget, naming what happened', async () => {
    const app = await startApp(fake, { LANGFUSE_READ_API: 'v2', LANGFUSE_READ_BUDGET_MS: '2000' });
    try {
      const rollout = rid();
      await app.tracker.record(inProject(rollout), uuidv7());
      fake.options.fail5xxNext = 1_000;
      const started = Date.now();
      const logsBefore = logs.length;
      const res = await get(app, `/traces?tags=rollout_id:${rollout}`);
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('langfuse_unavailable');
      expect(res.body.detail).toMatch(/GET \/api\/public\/v2\/observations.*HTTP 50[03]/);
      expect(res.text).not.toContain(new URL(fake.url).host);
      expect(logs.slice(logsBefore).join('\n')).toContain(`(project proj-a at ${fake.url}) failed`);
    } finally {
      await app.close();
    }
  });
});

describe('auto-detection of the Langfuse generation', () => {
  it('a v3 server (v2 observations → 404) is read through the legacy API, probed once', async () => {
    const fake = await startFake({ mode: 'v3' });
    const seeder = new Seeder(fake, PROJECT_A);
    const app = await startApp(fake);
    try {
      const rollout = rid();
      await seeder.seed(rollout, 3, app.tracker);
      fake.calls.length = 0;
      const first = await get(app, `/traces?tags=rollout_id:${rollout}`);
      expect(first.status).toBe(200);
      expect(first.body.total_traces).toBe(3);
      expect(readCalls(fake).filter((c) => c.path === '/api/public/v2/observations')).toHaveLength(1);
      fake.calls.length = 0;
      const again = await get(app, `/traces/pointwise?tags=rollout_id:${rollout}`);
      expect(again.status).toBe(200);
      expect(paths(fake)).toEqual(['/api/public/traces', '/api/public/traces/{id}']);
    } finally {
      await app.close();
      await fake.close();
    }
  });

  it('a v4 events-only server (legacy reads → 404) works through v2, also when legacy was forced at first', async () => {
    const fake = await startFake({ mode: 'v4-events-only' });
    const seeder = new Seeder(fake, PROJECT_A);
    const auto = await startApp(fake);
    const forced = await startApp(fake, { LANGFUSE_READ_API: 'legacy' });
    try {
      const rollout = rid();
      const ids = await seeder.seed(rollout, 3, auto.tracker);
      for (const id of ids) await forced.tracker.record(inProject(rollout), id);
      fake.calls.length = 0;
      const res = await get(auto, `/traces?tags=rollout_id:${rollout}`);
      expect(res.status).toBe(200);
      expect(res.body.total_traces).toBe(3);
      expect(paths(fake)).toEqual(['/api/public/v2/observations']);

      const logsBefore = logs.length;
      const refused = await get(forced, `/traces?tags=rollout_id:${rollout}`);
      expect(refused.status).toBe(502);
      expect(refused.body.detail).toContain('LANGFUSE_READ_API=legacy');
      expectHostOnlyInLog(fake, refused, logsBefore);
    } finally {
      await Promise.all([auto.close(), forced.close()]);
      await fake.close();
    }
  });
});

/** Reads the rollout from a header, and refuses rollouts named "blocked-…" with the framework's own exception. */
@Injectable()
class HeaderRolloutPreprocessor extends TracesRequestPreprocessor {
  async process(query: TracesQuery, context: TracesRequestContext): Promise<PreprocessedTracesRequest> {
    const rollout = query.tags.find((t) => t.startsWith('rollout_id:'));
    if (rollout?.startsWith('rollout_id:blocked-')) throw new ForbiddenException(`Rollout ${rollout} is blocked by policy (${context.account.accountId}).`);
    return { query: { ...query, tags: rollout ? query.tags : [...query.tags, 'rollout_id:from-preprocessor'] }, projectId: context.projectId ?? 'proj-b' };
  }
}

describe('extension points and access', () => {
  let fake: FakeLangfuse;
  beforeAll(async () => {
    fake = await startFake();
  });
  afterAll(() => fake?.close());

  it('a TracesRequestPreprocessor runs first: it may rewrite the query and project, and its HttpException is the answer', async () => {
    const app = await startApp(fake, {}, { preprocessor: HeaderRolloutPreprocessor });
    try {
      await new Seeder(fake, PROJECT_B).seed('from-preprocessor', 2, app.tracker);
      const rewritten = await get(app, '/traces');
      expect(rewritten.status).toBe(200);
      expect(rewritten.body).toMatchObject({ project_id: 'proj-b', total_traces: 2 });
      const blocked = await get(app, '/traces?tags=rollout_id:blocked-1');
      expect(blocked.status).toBe(403);
      expect(blocked.body.detail).toBe('Rollout rollout_id:blocked-1 is blocked by policy (anonymous).');
    } finally {
      await app.close();
    }
  });

  it("an API key scoped to some projects may not read another project's traces", async () => {
    const key = 'gw-key-traces-e2e-0123456789';
    const app = await startApp(fake, { AUTH_PROVIDER: 'api_key' }, { secretsExtra: `api_keys:\n  - { account_id: team-a, key: ${key}, projects: [proj-a] }` });
    try {
      const rollout = rid();
      await new Seeder(fake, PROJECT_A).seed(rollout, 1, app.tracker);
      expect((await get(app, `/traces?tags=rollout_id:${rollout}`)).status).toBe(401);
      expect((await get(app, `/traces?tags=rollout_id:${rollout}`, { authorization: `Bearer ${key}` })).status).toBe(200);
      const other = await get(app, `/project_id/proj-b/traces?tags=rollout_id:${rollout}`, { authorization: `Bearer ${key}` });
      expect(other.status).toBe(403);
      expect(other.body.detail).toContain('proj-b');
    } finally {
      await app.close();
    }
  });
});

afterAll(() => {
  expect(bodies.length).toBeGreaterThan(0);
  expect(langfuseHosts.length).toBeGreaterThan(0);
  for (const body of bodies) for (const secret of [...SECRET_STRINGS, ...langfuseHosts]) expect(body).not.toContain(secret);
});
