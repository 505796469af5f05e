/**
 * The gateway as the eval-protocol SDK really calls it (issue 15): the
 * `openai` SDK writes completions, reads are plain HTTP shaped exactly as the
 * SDK sends them (`/v1/traces/pointwise?limit=100&tags=rollout_id:R&
 * sleep_between_gets=0.1&max_retries=5`, `Authorization: Bearer <key>`),
 * through the v2 observations API and the legacy trace API alike: full traces
 * whatever `fields` says, tag-only reads, newest first, `max_retries` as the
 * number of reads, and the trail routes.
 */
import OpenAI from 'openai';
import { randomUUID } from 'node:crypto';
import { LangfuseCompletionTracer } from '@app/langfuse-export';
import { FakeLangfuse, startFakeLangfuse } from './fakes/fake-langfuse.server';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { exportingGatewaySettings, json, metadataPath, StartedGateway, startGateway } from './support/gateway';

const PROJECTS = [
  { projectId: 'proj-a', publicKey: 'pk-lf-ep-a', secretKey: 'sk-lf-ep-SECRET-a' },
  { projectId: 'proj-b', publicKey: 'pk-lf-ep-b', secretKey: 'sk-lf-ep-SECRET-b' },
];
/** What the SDK sends with its reads (a provider key; the gateway runs without its own auth here). */
const SDK_HEADERS = { authorization: 'Bearer fw-sdk-key-123', 'user-agent': 'python-requests/2.32.3' };

let upstream: FakeOpenAI;
let langfuse: FakeLangfuse;
let writer: StartedGateway; // reads through v2 (auto, against a v4 server)
let legacy: StartedGateway; // same Redis data, reads through the legacy trace API
const prefix = `ep-${randomUUID().slice(0, 8)}`;

async function gateway(extra: Record<string, string>): Promise<StartedGateway> {
  return startGateway({
    ...exportingGatewaySettings({ upstreamUrl: upstream.url, langfuseUrl: langfuse.url, prefix, projects: PROJECTS }),
    LANGFUSE_COMPLETENESS_BACKOFF_MS: '100',
    ...extra,
  });
}

beforeAll(async () => {
  upstream = await startFakeOpenAI();
  langfuse = await startFakeLangfuse({ projects: PROJECTS, mode: 'v4' });
  writer = await gateway({});
  legacy = await gateway({ LANGFUSE_READ_API: 'legacy' });
});
afterAll(async () => {
  await writer.close();
  await legacy.close();
  await Promise.all([upstream.close(), langfuse.close()]);
});
beforeEach(() => langfuse.withhold(() => false));

const flush = () => writer.app.get(LangfuseCompletionTracer).flush();
const APIS = ['v2', 'legacy'] as const;
/** The gateway reading through that API (resolved when a test runs: the gateways start in beforeAll). */
const via = (api: (typeof APIS)[number]) => (api === 'v2' ? writer : legacy);

/** n completions, one after another (so their order is their time order), through the openai SDK; returns the insertion ids, oldest first. */
async function complete(path: string, n: number, extra: { tags?: string[]; headers?: Record<string, string> } = {}): Promise<string[]> {
  const c = new OpenAI({ baseURL: `${writer.url}${path}`, apiKey: 'sk-client', maxRetries: 0, defaultHeaders: extra.headers });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const { response } = await c.chat.completions
      .create({ model: 'accounts/fireworks/models/m', messages: [{ role: 'user', content: `question ${i}` }], ...(extra.tags ? { metadata: { tags: extra.tags } as never } : {}) })
      .withResponse();
    ids.push(response.headers.get('x-insertion-id') ?? '');
    await new Promise((r) => setTimeout(r, 3)); // distinct start times
  }
  await flush();
  return ids;
}

async function read(gw: StartedGateway, pathAndQuery: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.url}${pathAndQuery}`, { headers: SDK_HEADERS });
  return { status: res.status, body: await json(res) };
}

const idsOf = (body: { traces: Array<{ tags: string[] }> }) => body.traces.map((t) => t.tags.find((tag) => tag.startsWith('insertion_id:'))!.slice('insertion_id:'.length));

describe('reads as the SDK sends them', () => {
  let rollout: string;
  let ids: string[];
  beforeAll(async () => {
    rollout = `r-${randomUUID()}`;
    ids = await complete(metadataPath({ rollout, experiment: 'exp-sdk' }), 3);
  });

  it.each(APIS)('full traces whatever `fields` says (%s)', async (api) => {
    const gw = via(api);
    for (const fields of ['core', 'core,observations', 'id,tags', 'io']) {
      const { status, body } = await read(gw, `/v1/traces?limit=100&tags=rollout_id:${rollout}&sleep_between_gets=0.1&max_retries=5&fields=${encodeURIComponent(fields)}`);
      expect([fields, status]).toEqual([fields, 200]);
      expect(body.total_traces).toBe(3);
      for (const trace of body.traces) {
        expect(trace.input).toEqual({ messages: [expect.objectContaining({ role: 'user' })] });
        expect(trace.output).toMatchObject({ role: 'assistant' });
        expect(trace.observations).toEqual([expect.objectContaining({ type: 'GENERATION', input: expect.anything(), output: expect.anything() })]);
      }
    }
  });

  it.each(APIS)('newest first, as the original (%s)', async (api) => {
    const gw = via(api);
    const { body } = await read(gw, `/v1/traces?limit=100&tags=rollout_id:${rollout}&sleep_between_gets=0.1&max_retries=5`);
    expect(idsOf(body)).toEqual([...ids].reverse());
    const pointwise = await read(gw, `/v1/traces/pointwise?limit=100&tags=rollout_id:${rollout}&sleep_between_gets=0.1&max_retries=5&include_payloads=True`);
    expect(pointwise.status).toBe(200);
    expect(idsOf(pointwise.body)).toEqual([ids[2]]);
  });

  it.each(APIS)('max_retries is the number of reads in all: max_retries=1 reads Langfuse once before the 404 (%s)', async (api) => {
    const gw = via(api);
    const r = `r-${randomUUID()}`;
    const [kept, lost] = await complete(metadataPath({ rollout: r }), 2);
    langfuse.withhold((t) => t.tags.includes(`insertion_id:${lost}`));
    const before = langfuse.calls.length;
    const { status, body } = await read(gw, `/v1/traces?limit=100&tags=rollout_id:${r}&max_retries=1`);
    expect(status).toBe(404);
    expect(body.detail).toMatch(/^Incomplete traces: found 1 of 2 expected/);
    expect(body.detail).toContain('after 1 read(s) (max_retries=1: reads in all)');
    const listCalls = langfuse.calls.slice(before).filter((c) => c.method === 'GET' && (api === 'v2' ? c.path === '/api/public/v2/observations' : c.path === '/api/public/traces'));
    expect(listCalls).toHaveLength(1);
    expect(kept).toBeTruthy();
  });
});

describe('tag-only reads, as the original serves them', () => {
  const experiment = `exp-${randomUUID().slice(0, 8)}`;
  const custom = `custom-${randomUUID().slice(0, 8)}`;
  let ids: string[];
  beforeAll(async () => {
    // Two rollouts of one experiment, one call with a client tag of its own.
    ids = [
      ...(await complete(metadataPath({ rollout: `r-${randomUUID()}`, experiment }), 2)),
      ...(await complete(metadataPath({ rollout: `r-${randomUUID()}`, experiment }), 1, { tags: [custom] })),
    ];
    // A failed call of the experiment: traced, marked failed, never returned.
    const failing = new OpenAI({ baseURL: `${writer.url}${metadataPath({ rollout: `r-${randomUUID()}`, experiment })}`, apiKey: 'sk-client', maxRetries: 0, defaultHeaders: { 'x-fake-status': '500' } });
    await expect(failing.chat.completions.create({ model: 'm', messages: [] })).rejects.toThrow();
    await flush();
  });

  it.each(APIS)('?tags=experiment_id:<e> → that experiment\'s traces, newest first, failed calls left out (%s)', async (api) => {
    const gw = via(api);
    const { status, body } = await read(gw, `/v1/traces?tags=experiment_id:${experiment}`);
    expect(status).toBe(200);
    expect(idsOf(body)).toEqual([...ids].reverse());
    expect(body.traces.every((t: { input: unknown; observations: unknown[] }) => t.input && t.observations.length === 1)).toBe(true);
  });

  it.each(APIS)('limit is the most traces returned; pointwise is the newest one (%s)', async (api) => {
    const gw = via(api);
    const two = await read(gw, `/v1/traces?tags=experiment_id:${experiment}&limit=2`);
    expect(idsOf(two.body)).toEqual([ids[2], ids[1]]);
    const newest = await read(gw, `/v1/traces/pointwise?tags=experiment_id:${experiment}`);
    expect(newest.status).toBe(200);
    expect(idsOf(newest.body)).toEqual([ids[2]]);
    const sampled = await read(gw, `/v1/traces?tags=experiment_id:${experiment}&sample_size=2`);
    expect(sampled.body.total_traces).toBe(2);
  });

  it.each(APIS)('a client\'s own tag (%s)', async (api) => {
    const gw = via(api);
    const { status, body } = await read(gw, `/traces?tags=${custom}`);
    expect(status).toBe(200);
    expect(idsOf(body)).toEqual([ids[2]]);
  });

  it.each(APIS)('nothing matches → 200 with no traces, not an error (%s)', async (api) => {
    const gw = via(api);
    const { status, body } = await read(gw, `/v1/traces?tags=experiment_id:none-${randomUUID()}`);
    expect([status, body.total_traces, body.traces]).toEqual([200, 0, []]);
  });

  it.each(APIS)('several rollout_id tags: each rollout complete, together newest first (%s)', async (api) => {
    const gw = via(api);
    const a = `r-${randomUUID()}`;
    const b = `r-${randomUUID()}`;
    const fromA = await complete(metadataPath({ rollout: a }), 2);
    const fromB = await complete(metadataPath({ rollout: b }), 1);
    const { status, body } = await read(gw, `/v1/traces?tags=rollout_id:${a}&tags=rollout_id:${b}`);
    expect(status).toBe(200);
    expect(idsOf(body)).toEqual([fromB[0], fromA[1], fromA[0]]);
  });

  it('no tags at all → 400 saying what to send', async () => {
    const { status, body } = await read(writer, '/v1/traces');
    expect(status).toBe(400);
    expect(body.detail).toMatch(/add \?tags=rollout_id:<your rollout id>.*or any tag/);
  });
});

describe('trail routes', () => {
  it('a trail completion carries exactly two tags, is recorded under the trail, and the trail reads complete (both APIs)', async () => {
    const trail = `t-${randomUUID()}`;
    const ids = await complete(`/trails/${trail}`, 2);
    ids.push(...(await complete(`/v1/project_id/proj-a/trails/${trail}`, 1)));
    expect(ids.every((id) => /^[0-9a-f-]{36}$/.test(id))).toBe(true);

    const stored = langfuse.traces('proj-a').filter((t) => t.tags.includes(`trail_id:${trail}`));
    expect(stored).toHaveLength(3);
    for (const t of stored) expect(t.tags.sort()).toEqual([`insertion_id:${ids.find((id) => t.tags.includes(`insertion_id:${id}`))}`, `trail_id:${trail}`].sort());

    for (const gw of APIS.map(via)) {
      for (const base of [`/trails/${trail}/traces`, `/v1/trails/${trail}/traces`, `/project_id/proj-a/trails/${trail}/traces`, `/v1/project_id/proj-a/trails/${trail}/traces`]) {
        const full = await read(gw, `${base}?limit=100&sleep_between_gets=0.1&max_retries=5`);
        expect([base, full.status]).toEqual([base, 200]);
        expect(idsOf(full.body)).toEqual([...ids].reverse());
        const pointwise = await read(gw, `${base}/pointwise`);
        expect(idsOf(pointwise.body)).toEqual([ids[2]]);
      }
    }
  });

  it('a trail and a rollout with the same id stay apart; an unknown trail is a 404 saying so', async () => {
    const same = `same-${randomUUID()}`;
    const trailIds = await complete(`/trails/${same}`, 1);
    const rolloutIds = await complete(metadataPath({ rollout: same }), 2);
    expect(idsOf((await read(writer, `/v1/trails/${same}/traces`)).body)).toEqual(trailIds);
    expect(idsOf((await read(writer, `/v1/traces?tags=rollout_id:${same}`)).body)).toEqual([...rolloutIds].reverse());
    const unknown = await read(writer, `/v1/trails/nope-${randomUUID()}/traces`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.detail).toMatch(/^No traces found: no completions were recorded for trail "nope-/);
  });

  it('a trail call the client saw fail has no x-insertion-id, and its trace is marked failed and never counted', async () => {
    const trail = `t-${randomUUID()}`;
    const ok = await complete(`/trails/${trail}`, 1);
    const c = new OpenAI({ baseURL: `${writer.url}/trails/${trail}`, apiKey: 'sk-client', maxRetries: 0, defaultHeaders: { 'x-fake-status': '500' } });
    const failure = await c.chat.completions.create({ model: 'm', messages: [] }).catch((err: { headers?: Headers }) => err);
    expect((failure as { headers?: Headers }).headers?.get('x-insertion-id') ?? null).toBeNull();
    await flush();
    const failed = langfuse.traces('proj-a').filter((t) => t.tags.includes(`failed_trail_id:${trail}`));
    expect(failed).toHaveLength(1);
    expect(failed[0].tags).not.toContain(`trail_id:${trail}`);
    const { body } = await read(writer, `/v1/trails/${trail}/traces`);
    expect(idsOf(body)).toEqual(ok);
  });

  it('the streaming client is recorded under the trail too', async () => {
    const trail = `t-${randomUUID()}`;
    const c = new OpenAI({ baseURL: `${writer.url}/trails/${trail}`, apiKey: 'sk-client', maxRetries: 0 });
    const { data: stream, response } = await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }).withResponse();
    for await (const _ of stream) {
      // consume
    }
    await flush();
    const { status, body } = await read(legacy, `/v1/trails/${trail}/traces/pointwise`);
    expect(status).toBe(200);
    expect(idsOf(body)).toEqual([response.headers.get('x-insertion-id')]);
  });
});
