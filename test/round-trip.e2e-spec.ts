/**
 * The whole round trip of DESIGN.md: the openai SDK runs rollouts through the
 * gateway (streaming and not, two projects); the gateway exports one trace
 * per completion over OTLP to the Langfuse fake and records the ids in Redis;
 * /traces then returns exactly those traces — through the v2 observations
 * API and through the legacy trace API alike — or fails loudly.
 */
import OpenAI from 'openai';
import { randomUUID } from 'node:crypto';
import { LangfuseCompletionTracer } from '@app/langfuse-export';
import { FakeLangfuse, startFakeLangfuse } from './fakes/fake-langfuse.server';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { exportingGatewaySettings, json, metadataPath, StartedGateway, startGateway, writeSecrets } from './support/gateway';
import { testRedisUrl } from './support/redis';

const PROJECTS = [
  { projectId: 'proj-a', publicKey: 'pk-lf-rt-a', secretKey: 'sk-lf-rt-SECRET-a' },
  { projectId: 'proj-b', publicKey: 'pk-lf-rt-b', secretKey: 'sk-lf-rt-SECRET-b' },
];

let upstream: FakeOpenAI;
let langfuse: FakeLangfuse;
let writer: StartedGateway; // reads through v2 (auto against a v4 server)
let legacyReader: StartedGateway; // same Redis data, reads through the legacy API
const prefix = `rt-${randomUUID().slice(0, 8)}`;

async function gateway(extra: Record<string, string>): Promise<StartedGateway> {
  return startGateway({
    ...exportingGatewaySettings({ upstreamUrl: upstream.url, langfuseUrl: langfuse.url, prefix, projects: PROJECTS }),
    LANGFUSE_COMPLETENESS_BACKOFF_MS: '200',
    ...extra,
  });
}

beforeAll(async () => {
  upstream = await startFakeOpenAI();
  langfuse = await startFakeLangfuse({ projects: PROJECTS, mode: 'v4' });
  writer = await gateway({});
  legacyReader = await gateway({ LANGFUSE_READ_API: 'legacy' });
});
afterAll(async () => {
  await writer.close();
  await legacyReader.close();
  await Promise.all([upstream.close(), langfuse.close()]);
});
beforeEach(() => {
  langfuse.options.visibilityDelayMs = 0;
  langfuse.options.rateLimit = undefined;
  langfuse.withhold(() => false);
});

/** Runs n completions of one rollout, alternating streaming and not; returns the insertion ids. */
async function runRollout(rollout: string, n: number, project?: string): Promise<string[]> {
  const ids = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const c = new OpenAI({ baseURL: `${writer.url}${metadataPath({ rollout, project, row: `row-${i}` })}`, apiKey: 'sk-client', maxRetries: 0 });
      if (i % 2 === 0) {
        const { response } = await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `q${i}` }] }).withResponse();
        return response.headers.get('x-insertion-id')!;
      }
      const { data: stream, response } = await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `q${i}` }], stream: true }).withResponse();
      for await (const _ of stream) { /* consume */ }
      return response.headers.get('x-insertion-id')!;
    }),
  );
  await writer.app.get(LangfuseCompletionTracer).flush();
  return ids;
}

const insertionIds = (body: { traces: Array<{ tags: string[] }> }) =>
  body.traces.map((t) => t.tags.find((tag) => tag.startsWith('insertion_id:'))!.slice('insertion_id:'.length)).sort();

describe('a rollout per project, mixed streaming and non-streaming', () => {
  const rolloutA = `r-${randomUUID()}`;
  const rolloutB = `r-${randomUUID()}`;
  let idsA: string[];
  let idsB: string[];

  beforeAll(async () => {
    [idsA, idsB] = await Promise.all([runRollout(rolloutA, 12), runRollout(rolloutB, 8, 'proj-b')]);
  });

  it('/traces returns exactly the recorded completions, with their tags, input and output', async () => {
    const res = await fetch(`${writer.url}/v1/traces?limit=100&tags=rollout_id:${rolloutA}&sleep_between_gets=0.1&max_retries=5`);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.project_id).toBe('proj-a');
    expect(body.total_traces).toBe(12);
    expect(insertionIds(body)).toEqual([...idsA].sort());
    const t = body.traces[0];
    expect(t.name).toBe('chat-completion');
    expect(t.tags).toEqual(expect.arrayContaining([`rollout_id:${rolloutA}`, 'invocation_id:inv-1', 'experiment_id:exp-1', 'run_id:run-1']));
    expect(t.input.messages[0].role).toBe('user');
    expect(t.output.role).toBe('assistant');
    expect(t.observations[0]).toMatchObject({ type: 'GENERATION', name: 'chat-completion' });
  });

  it('the other project is read through its project path', async () => {
    const body = await json(await fetch(`${writer.url}/v1/project_id/proj-b/traces?tags=rollout_id:${rolloutB}`));
    expect(body.project_id).toBe('proj-b');
    expect(insertionIds(body)).toEqual([...idsB].sort());
  });

  it('pointwise returns only the newest completion', async () => {
    const body = await json(await fetch(`${writer.url}/v1/traces/pointwise?tags=rollout_id:${rolloutA}`));
    expect(body.total_traces).toBe(1);
    expect(insertionIds(body)).toEqual([[...idsA].sort().at(-1)]);
  });

  it('both Langfuse API generations give the same response body', async () => {
    const url = (gw: StartedGateway) => `${gw.url}/v1/traces?tags=rollout_id:${rolloutA}`;
    const viaV2 = await json(await fetch(url(writer)));
    const viaLegacy = await json(await fetch(url(legacyReader)));
    expect(viaLegacy).toEqual(viaV2);
    const pointV2 = await json(await fetch(`${writer.url}/traces/pointwise?tags=rollout_id:${rolloutB}&tags=run_id:run-1`.replace('/traces', '/project_id/proj-b/traces')));
    const pointLegacy = await json(await fetch(`${legacyReader.url}/project_id/proj-b/traces/pointwise?tags=rollout_id:${rolloutB}&tags=run_id:run-1`));
    expect(pointLegacy).toEqual(pointV2);
  });
});

it('waits for traces that are not visible yet, then returns them all', async () => {
  langfuse.options.visibilityDelayMs = 1_200;
  const rollout = `r-${randomUUID()}`;
  const ids = await runRollout(rollout, 6);
  const body = await json(await fetch(`${writer.url}/traces?tags=rollout_id:${rollout}&max_retries=5`));
  expect(insertionIds(body)).toEqual([...ids].sort());
});

it('a trace that never arrives → 404 naming found and expected, on both paths', async () => {
  const rollout = `r-${randomUUID()}`;
  const ids = await runRollout(rollout, 5);
  const lost = ids[2];
  langfuse.withhold((t) => t.tags.includes(`insertion_id:${lost}`));
  for (const gw of [writer, legacyReader]) {
    const res = await fetch(`${gw.url}/v1/traces?tags=rollout_id:${rollout}&max_retries=1`);
    expect(res.status).toBe(404);
    const body = await json(res);
    expect(body.detail).toMatch(/^Incomplete traces: found 4 of 5 expected/);
    expect(body.error.missing_insertion_ids).toEqual([lost]);
  }
});

it('a rate-limited Langfuse still yields the complete rollout, without failures', async () => {
  const rollout = `r-${randomUUID()}`;
  const ids = await runRollout(rollout, 6);
  langfuse.options.rateLimit = { maxCalls: 3, windowMs: 1_000, retryAfterSeconds: 1 };
  const res = await fetch(`${legacyReader.url}/v1/traces?tags=rollout_id:${rollout}`);
  expect(res.status).toBe(200);
  expect(insertionIds(await json(res))).toEqual([...ids].sort());
  expect(langfuse.calls.some((c) => c.status === 429)).toBe(true);
});

it('an older self-hosted server without the v2 API is detected and read through the legacy API', async () => {
  const v3 = await startFakeLangfuse({ projects: PROJECTS, mode: 'v3' });
  const gw = await startGateway({
    LITELLM_URL: `${upstream.url}/v1`, REDIS_URL: testRedisUrl(), LANGFUSE_EXPORT: 'true', LANGFUSE_HOST: v3.url, LANGFUSE_FLUSH_INTERVAL: '0.1',
    SECRETS_PATH: writeSecrets(`langfuse_keys:\n  proj-a: { public_key: ${PROJECTS[0].publicKey}, secret_key: ${PROJECTS[0].secretKey} }\n`),
  });
  try {
    const rollout = `r-${randomUUID()}`;
    const c = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout })}`, apiKey: 'k', maxRetries: 0 });
    const { response } = await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'old server' }] }).withResponse();
    await gw.app.get(LangfuseCompletionTracer).flush();
    const body = await json(await fetch(`${gw.url}/traces?tags=rollout_id:${rollout}`));
    expect(insertionIds(body)).toEqual([response.headers.get('x-insertion-id')]);
    expect(v3.calls.some((c) => c.path === '/api/public/v2/observations' && c.status === 404)).toBe(true);
    expect(v3.calls.some((c) => c.path.startsWith('/api/public/traces'))).toBe(true);
  } finally {
    await gw.close();
    await v3.close();
  }
});

it('no Langfuse secret in any response or log line', async () => {
  const rollout = `r-${randomUUID()}`;
  await runRollout(rollout, 2);
  const texts = [
    await (await fetch(`${writer.url}/v1/traces?tags=rollout_id:${rollout}`)).text(),
    await (await fetch(`${writer.url}/v1/project_id/nope/traces?tags=rollout_id:${rollout}`)).text(),
    await (await fetch(`${writer.url}/ready`)).text(),
    writer.logs.join('\n'),
    legacyReader.logs.join('\n'),
  ].join('\n');
  for (const p of PROJECTS) expect(texts).not.toContain(p.secretKey);
});
