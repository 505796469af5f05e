/**
 * The example app end to end: GatewayModule with a JWT auth provider, a
 * completeness store of its own, chat and traces preprocessors and an extra
 * route. The JWT never leaves the gateway; the store is the one every part
 * of the gateway uses.
 */
import OpenAI from 'openai';
import Redis from 'ioredis';
import { createHmac, randomUUID } from 'node:crypto';
import { LangfuseCompletionTracer } from '@app/langfuse-export';
import { FakeLangfuse, startFakeLangfuse } from '../../test/fakes/fake-langfuse.server';
import { FakeOpenAI, startFakeOpenAI } from '../../test/fakes/fake-openai.server';
import { json, metadataPath, rolloutKey, StartedGateway, startGateway, writeSecrets } from '../../test/support/gateway';
import { testRedisUrl } from '../../test/support/redis';
import { CUSTOM_GATEWAY } from './app.module';

const SECRET = `jwt-secret-${randomUUID()}`;
const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
function jwt(claims: object, secret = SECRET): string {
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}
const TOKEN = jwt({ sub: 'team-b', projects: ['proj-b'], exp: Math.floor(Date.now() / 1000) + 3600 });

let upstream: FakeOpenAI;
let langfuse: FakeLangfuse;
let gw: StartedGateway;
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(testRedisUrl());
  upstream = await startFakeOpenAI();
  langfuse = await startFakeLangfuse({
    projects: [
      { projectId: 'proj-a', publicKey: 'pk-a', secretKey: 'sk-a' },
      { projectId: 'proj-b', publicKey: 'pk-b', secretKey: 'sk-b' },
    ],
  });
  gw = await startGateway(
    {
      JWT_SECRET: SECRET,
      REDIS_URL: testRedisUrl(),
      LITELLM_URL: `${upstream.url}/v1`,
      LANGFUSE_EXPORT: 'true',
      LANGFUSE_HOST: langfuse.url,
      SECRETS_PATH: writeSecrets(`
langfuse_keys:
  proj-a: { public_key: pk-a, secret_key: sk-a }
  proj-b: { public_key: pk-b, secret_key: sk-b }
default_project_id: proj-a
`),
    },
    CUSTOM_GATEWAY,
  );
});
afterAll(async () => {
  await gw.close();
  await Promise.all([upstream.close(), langfuse.close()]);
  const keys = await redis.keys(`${gw.keyPrefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});
beforeEach(() => upstream.reset());

/** What the eval worker runs: the JWT as the OpenAI SDK's key, the provider key in X-Provider-Authorization. */
const client = (path: string, token = TOKEN) =>
  new OpenAI({ baseURL: `${gw.url}${path}`, apiKey: token, defaultHeaders: { 'x-provider-authorization': 'Bearer sk-provider' }, maxRetries: 0 });
const get = (path: string, token = TOKEN) => fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

it('the JWT provider decides: none, forged or expired → 401; /health stays open', async () => {
  expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  expect((await fetch(`${gw.url}/whoami`)).status).toBe(401);
  expect((await get('/whoami', jwt({ sub: 'team-b' }, 'not-the-secret-not-the-secret-xx'))).status).toBe(401);
  expect((await get('/whoami', jwt({ sub: 'team-b', exp: 1 }))).status).toBe(401);
  expect((await get('/whoami', 'not.a.jwt'))).toHaveProperty('status', 401);
});

it('the extra route sees the account', async () => {
  expect(await json(await get('/whoami'))).toEqual({ account_id: 'team-b', projects: ['proj-b'] });
});

it('the JWT never reaches the LLM provider: chat (tracked and not) and the catch-all send the provider key instead', async () => {
  const rollout = `r-${randomUUID()}`;
  await client(metadataPath({ rollout })).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  await client('/v1').chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: false });
  await client('/v1').models.list().catch(() => undefined);
  const models = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(models.status).toBeLessThan(500);
  expect(upstream.requests.length).toBeGreaterThanOrEqual(3);
  for (const request of upstream.requests) {
    expect(JSON.stringify(request)).not.toContain(TOKEN.split('.')[2]);
    expect(request.headers['x-provider-authorization']).toBeUndefined();
  }
  // With X-Provider-Authorization the provider gets that key; without it, no Authorization at all.
  expect(upstream.requests.slice(0, 3).map((r) => r.headers.authorization)).toEqual(['Bearer sk-provider', 'Bearer sk-provider', 'Bearer sk-provider']);
  expect(upstream.requests.at(-1)!.headers.authorization).toBeUndefined();
});

it('the swapped completeness store is the one the tracker, /ready, /traces and /rollouts use', async () => {
  const rollout = `r-${randomUUID()}`;
  const { response } = await client(metadataPath({ rollout, project: 'proj-b' })).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
  const id = response.headers.get('x-insertion-id');
  expect(await redis.zrange(rolloutKey(gw.keyPrefix, 'proj-b', rollout, 'completions'), '0', '-1')).toEqual([id]);
  expect(await redis.exists(rolloutKey(gw.keyPrefix, 'proj-b', rollout, 'ids'))).toBe(0);

  expect(await json(await fetch(`${gw.url}/ready`))).toMatchObject({ status: 'ready', store: { kind: 'redis-sorted-set', ok: true } });
  expect(await json(await get(`/v1/rollouts/${rollout}`))).toMatchObject({ expected_completions: 1, newest_insertion_id: id });
  await gw.app.get(LangfuseCompletionTracer).flush();
  const traces = await json(await get(`/v1/traces?tags=rollout_id:${rollout}`));
  expect(traces.total_traces).toBe(1);
  expect(traces.traces[0].tags).toContain(`insertion_id:${id}`);
});

it('the chat preprocessor tags the call with the account and pins it to the account project; /traces is pinned too', async () => {
  const rollout = `r-${randomUUID()}`;
  const { response } = await client(metadataPath({ rollout })).chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
  expect(upstream.requests[0].body.metadata.tags).toContain('account_id:team-b');
  await gw.app.get(LangfuseCompletionTracer).flush();
  expect(langfuse.traces('proj-b').some((t) => t.id === response.headers.get('x-langfuse-trace-id'))).toBe(true);

  const traces = await json(await get(`/v1/traces?tags=rollout_id:${rollout}`));
  expect(traces.project_id).toBe('proj-b');
  expect(traces.total_traces).toBe(1);
  expect(traces.traces[0].tags).toContain('account_id:team-b');
});

it('a preprocessor that throws produces that response', async () => {
  const err = await client('').chat.completions.create({ model: 'forbidden-model', messages: [] }).catch((e) => e);
  expect(err.status).toBe(403);
  expect(err.message).toMatch(/may not use that model/);
  const res = await get(`/project_id/proj-a/traces?tags=rollout_id:anything`);
  expect(res.status).toBe(403);
  expect((await json(res)).detail).toMatch(/reads traces of project proj-b only/);
});
