/**
 * Tenants stay apart (AUTH_PROVIDER=api_key, one key per project): a key
 * scoped to one project learns nothing about another project's rollouts — not
 * their logs, status, progress, recorded ids or counts — and two projects
 * using the same rollout id never mix. Real gateway, real Redis, the fake
 * upstream and the fake Langfuse, the openai SDK as the client.
 */
import OpenAI from 'openai';
import { randomUUID } from 'node:crypto';
import { LangfuseCompletionTracer } from '@app/langfuse-export';
import { FakeLangfuse, startFakeLangfuse } from './fakes/fake-langfuse.server';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { json, metadataPath, StartedGateway, startGateway, writeSecrets } from './support/gateway';
import { testRedisUrl } from './support/redis';

const KEY_A = `gw-team-a-${randomUUID()}`;
const KEY_B = `gw-team-b-${randomUUID()}`;

let upstream: FakeOpenAI;
let langfuse: FakeLangfuse;
let gw: StartedGateway;

beforeAll(async () => {
  upstream = await startFakeOpenAI();
  langfuse = await startFakeLangfuse({
    projects: [
      { projectId: 'proj-a', publicKey: 'pk-a', secretKey: 'sk-a' },
      { projectId: 'proj-b', publicKey: 'pk-b', secretKey: 'sk-b' },
    ],
  });
  gw = await startGateway({
    AUTH_PROVIDER: 'api_key',
    REDIS_URL: testRedisUrl(),
    LITELLM_URL: `${upstream.url}/v1`,
    LANGFUSE_EXPORT: 'true',
    LANGFUSE_HOST: langfuse.url,
    LANGFUSE_FLUSH_INTERVAL: '0.05',
    LANGFUSE_COMPLETENESS_BACKOFF_MS: '50',
    SECRETS_PATH: writeSecrets(`
langfuse_keys:
  proj-a: { public_key: pk-a, secret_key: sk-a }
  proj-b: { public_key: pk-b, secret_key: sk-b }
default_project_id: proj-a
api_keys:
  - { account_id: team-a, key: ${KEY_A}, projects: [proj-a] }
  - { account_id: team-b, key: ${KEY_B}, projects: [proj-b] }
`),
  });
});
afterAll(async () => {
  await gw.close();
  await Promise.all([upstream.close(), langfuse.close()]);
});

const as = (key: string) => ({
  chat: (rollout: string) =>
    new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout })}`, apiKey: 'sk-provider', defaultHeaders: { 'x-gateway-key': key }, maxRetries: 0 }).chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse(),
  get: async (path: string) => {
    const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, body: await json(res) };
  },
  log: async (rollout: string, message: string, status: unknown = null) =>
    (
      await fetch(`${gw.url}/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ program: 'eval_protocol', status, message, tags: [`rollout_id:${rollout}`], extras: {} }),
      })
    ).status,
});
const teamA = as(KEY_A);
const teamB = as(KEY_B);

it("team B learns nothing about team A's rollout: no logs, status, progress, ids or counts", async () => {
  const rollout = `r-tenant-${randomUUID()}`;
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await teamA.chat(rollout)).response.headers.get('x-insertion-id')!);
  expect(await teamA.log(rollout, 'secret progress of team A', { code: 101, message: 'running', details: [] })).toBe(200);
  await gw.app.get(LangfuseCompletionTracer).flush();

  // Team A sees its own.
  expect((await teamA.get(`/v1/rollouts/${rollout}`)).body).toMatchObject({ expected_completions: 3, log_entries: 1, status: { code: 101 } });
  expect((await teamA.get(`/v1/traces?tags=rollout_id:${rollout}`)).body.total_traces).toBe(3);

  // Team B, with the same rollout id, sees nothing of it.
  const seen = [
    await teamB.get(`/v1/logs?tags=rollout_id:${rollout}`),
    await teamB.get(`/v1/status?rollout_id=${rollout}`),
    await teamB.get(`/v1/rollouts/${rollout}`),
    await teamB.get(`/v1/rollouts/${rollout}?check=langfuse`),
    await teamB.get(`/v1/traces?tags=rollout_id:${rollout}&max_retries=1`),
    await teamB.get(`/v1/traces/pointwise?tags=rollout_id:${rollout}&max_retries=1`),
  ];
  expect(seen[0].body).toEqual({ entries: [], total_entries: 0 });
  expect(seen[1].body).toMatchObject({ rollout_id: rollout, status: null });
  expect(seen[2].body).toMatchObject({ expected_completions: 0, newest_insertion_id: null, log_entries: 0, status: null });
  expect(seen[3].body.langfuse).toEqual({ project_id: 'proj-b', visible: 0, expected: 0 });
  expect(seen[4].status).toBe(404);
  expect(seen[4].body.detail).toMatch(/^No traces found/);
  for (const answer of seen) {
    const text = JSON.stringify(answer.body);
    for (const id of ids) expect(text).not.toContain(id);
    expect(text).not.toContain('secret progress of team A');
  }

  // Asking for team A's project by name is refused before anything is read.
  for (const path of [`/v1/project_id/proj-a/logs?tags=rollout_id:${rollout}`, `/v1/status?rollout_id=${rollout}&project_id=proj-a`, `/v1/rollouts/${rollout}?project_id=proj-a`, `/v1/project_id/proj-a/traces?tags=rollout_id:${rollout}`]) {
    const answer = await teamB.get(path);
    expect(answer.status).toBe(403);
    expect(JSON.stringify(answer.body)).not.toMatch(new RegExp(ids.join('|')));
  }
});

it("team B's log entries and completions for the same rollout id never land in team A's rollout", async () => {
  const rollout = `r-shared-id-${randomUUID()}`;
  const a = (await teamA.chat(rollout)).response.headers.get('x-insertion-id');
  const b = (await teamB.chat(rollout)).response.headers.get('x-insertion-id');
  expect(await teamB.log(rollout, 'from team B', { code: 100, message: 'finished', details: [] })).toBe(200);
  await gw.app.get(LangfuseCompletionTracer).flush();

  const progressA = (await teamA.get(`/v1/rollouts/${rollout}`)).body;
  expect(progressA).toMatchObject({ expected_completions: 1, newest_insertion_id: a, log_entries: 0, status: null });
  const progressB = (await teamB.get(`/v1/rollouts/${rollout}`)).body;
  expect(progressB).toMatchObject({ expected_completions: 1, newest_insertion_id: b, log_entries: 1, status: { code: 100 } });

  const tracesA = (await teamA.get(`/v1/traces?tags=rollout_id:${rollout}`)).body;
  expect(tracesA).toMatchObject({ project_id: 'proj-a', total_traces: 1 });
  expect(tracesA.traces[0].tags).toContain(`insertion_id:${a}`);
  const tracesB = (await teamB.get(`/v1/traces?tags=rollout_id:${rollout}`)).body;
  expect(tracesB).toMatchObject({ project_id: 'proj-b', total_traces: 1 });
  expect(tracesB.traces[0].tags).toContain(`insertion_id:${b}`);
});
