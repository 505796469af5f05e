/**
 * What a 1,000-completion rollout costs in Langfuse calls and wall time on
 * each read path, against the fake Langfuse (default trace-retrieval config).
 * Prints a table; the assertions pin the call counts.
 */
import { INestApplication, Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { RolloutTracker } from '@app/completeness-tracking';
import { GatewayExceptionFilter } from '@app/gateway';
import { TraceRetrievalModule, TraceRetrievalService } from '@app/trace-retrieval';
import { FakeLangfuse, startFakeLangfuse } from './fakes/fake-langfuse.server';
import { sharedModules } from './support/modules';
import { testRedisUrl } from './support/redis';
import { writeSecrets } from './support/gateway';

Logger.overrideLogger(['error']);

const N = 1_000;
const PROJECT = { projectId: 'proj-cost', publicKey: 'pk-lf-cost', secretKey: 'sk-lf-cost-SECRET' };

let fake: FakeLangfuse;
const apps: Record<'v2' | 'legacy', { url: string; app: INestApplication }> = {} as never;
const rollout = `r-cost-${randomUUID()}`;
const ids: string[] = [];
const rows: string[] = [];

async function startApp(api: 'v2' | 'legacy'): Promise<{ url: string; app: INestApplication }> {
  const { settings, vault, tracking, auth } = sharedModules({
    SECRETS_PATH: writeSecrets(`langfuse_keys:\n  ${PROJECT.projectId}: { public_key: ${PROJECT.publicKey}, secret_key: ${PROJECT.secretKey}, host: "${fake.url}" }\n`),
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: `traces-cost-${api}-${randomUUID().slice(0, 8)}`,
    LANGFUSE_READ_API: api,
  });
  const moduleRef = await Test.createTestingModule({
    imports: [auth, TraceRetrievalModule.forRoot({ settings, vault, auth, tracking })],
  }).compile();
  const app = moduleRef.createNestApplication();
  app.useGlobalFilters(new GatewayExceptionFilter());
  await app.listen(0, '127.0.0.1');
  const tracker = app.get(RolloutTracker);
  for (const id of ids) await tracker.record({ projectId: PROJECT.projectId, rolloutId: rollout }, id);
  return { url: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`, app };
}

/** 1,000 gateway-shaped completions in one OTLP/HTTP JSON export. */
async function seed(): Promise<void> {
  const start = Date.now() - 600_000;
  const spans = [];
  for (let i = 0; i < N; i++) {
    const id = uuidv7();
    ids.push(id);
    rows.push(`row-${i}`);
    const tags = [`rollout_id:${rollout}`, `insertion_id:${id}`, 'invocation_id:inv', 'experiment_id:exp', 'run_id:run', `row_id:row-${i}`];
    const messages = JSON.stringify({ messages: [{ role: 'user', content: `question ${i}` }] });
    const answer = JSON.stringify({ role: 'assistant', content: `answer ${i}` });
    const str = (key: string, value: string) => ({ key, value: { stringValue: value } });
    spans.push({
      traceId: randomUUID().replace(/-/g, ''),
      spanId: randomUUID().replace(/-/g, '').slice(0, 16),
      name: 'chat-completion',
      startTimeUnixNano: `${start + i}000000`,
      endTimeUnixNano: `${start + i + 1}000000`,
      attributes: [
        str('langfuse.trace.name', 'chat-completion'),
        { key: 'langfuse.trace.tags', value: { arrayValue: { values: tags.map((t) => ({ stringValue: t })) } } },
        str('langfuse.trace.input', messages),
        str('langfuse.trace.output', answer),
        str('langfuse.observation.type', 'generation'),
        str('langfuse.observation.input', messages),
        str('langfuse.observation.output', answer),
        str('langfuse.observation.model.name', 'test-model'),
      ],
    });
  }
  const res = await fetch(`${fake.url}/api/public/otel/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${PROJECT.publicKey}:${PROJECT.secretKey}`).toString('base64')}` },
    body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: 'langfuse-sdk' }, spans }] }] }),
  });
  expect(res.status).toBe(200);
}

const figures: string[] = [];

async function measure(label: string, api: 'v2' | 'legacy', path: string, check: (body: any) => void): Promise<number> {
  fake.calls.length = 0;
  const started = Date.now();
  const res = await fetch(`${apps[api].url}${path}`);
  const ms = Date.now() - started;
  const body = await res.json();
  expect(res.status).toBe(200);
  check(body);
  const calls = fake.calls.filter((c) => c.method === 'GET').length;
  figures.push(`${label.padEnd(58)} ${api.padEnd(6)} ${String(calls).padStart(5)} calls ${String(ms).padStart(6)} ms`);
  return calls;
}

beforeAll(async () => {
  fake = await startFakeLangfuse({ projects: [PROJECT] });
  await seed();
  apps.v2 = await startApp('v2');
  apps.legacy = await startApp('legacy');
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(apps).map((a) => a.app.close()));
  await fake?.close();
  // eslint-disable-next-line no-console
  console.log(`Langfuse calls for a ${N}-completion rollout (fake Langfuse, default config):\n${figures.join('\n')}`);
});

const complete = (body: any) => {
  expect(body.total_traces).toBe(N);
  expect(new Set(body.traces.map((t: any) => t.id)).size).toBe(N);
};

it('full read: v2 is one call, legacy a list page per 100 plus a detail GET per trace', async () => {
  expect(await measure('GET /traces', 'v2', `/traces?tags=rollout_id:${rollout}`, complete)).toBe(1);
  expect(await measure('GET /traces', 'legacy', `/traces?tags=rollout_id:${rollout}`, complete)).toBe(N / 100 + N);
}, 120_000);

it('what eval-protocol sends (sleep_between_gets=0.1, max_retries=5, pointwise and full)', async () => {
  const sdk = `limit=100&tags=rollout_id:${rollout}&sleep_between_gets=0.1&max_retries=5&include_payloads=True`;
  expect(await measure('GET /v1/traces/pointwise (SDK query)', 'v2', `/v1/traces/pointwise?${sdk}`, (b) => expect(b.total_traces).toBe(1))).toBe(1);
  expect(await measure('GET /v1/traces/pointwise (SDK query)', 'legacy', `/v1/traces/pointwise?${sdk}`, (b) => expect(b.total_traces).toBe(1))).toBe(2);
  expect(await measure('GET /v1/traces (SDK query)', 'v2', `/v1/traces?${sdk}`, complete)).toBe(1);
  expect(await measure('GET /v1/traces (SDK query)', 'legacy', `/v1/traces?${sdk}`, complete)).toBe(N / 100 + N);
}, 120_000);

it('countVisible (rollout progress) never reads trace bodies', async () => {
  for (const api of ['v2', 'legacy'] as const) {
    fake.calls.length = 0;
    const started = Date.now();
    await expect(apps[api].app.get(TraceRetrievalService).countVisible(PROJECT.projectId, rollout, ids)).resolves.toEqual({ visible: N, expected: N });
    const calls = fake.calls.length;
    figures.push(`${'countVisible(1000 ids)'.padEnd(58)} ${api.padEnd(6)} ${String(calls).padStart(5)} calls ${String(Date.now() - started).padStart(6)} ms`);
    expect(calls).toBe(api === 'v2' ? 1 : N / 100);
  }
}, 60_000);
