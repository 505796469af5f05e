/**
 * The example app end to end: GatewayModule.forRootAsync with a custom auth
 * provider (Redis hash), chat and traces preprocessors and an extra route.
 */
import OpenAI from 'openai';
import Redis from 'ioredis';
import { createHash, randomUUID } from 'node:crypto';
import { LangfuseCompletionTracer } from '@app/completion-forwarding';
import { FakeLangfuse, startFakeLangfuse } from '../../test/fakes/fake-langfuse.server';
import { FakeOpenAI, startFakeOpenAI } from '../../test/fakes/fake-openai.server';
import { json, metadataPath, StartedGateway, startGateway, writeSecrets } from '../../test/support/gateway';
import { testRedisUrl } from '../../test/support/redis';
import { CustomGatewayModule } from './app.module';
import { API_KEYS_HASH } from './redis-api-key.auth-provider';

const KEY = `ex-${randomUUID()}`;
let upstream: FakeOpenAI;
let langfuse: FakeLangfuse;
let gw: StartedGateway;
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(testRedisUrl());
  await redis.hset(API_KEYS_HASH, createHash('sha256').update(KEY).digest('hex'), JSON.stringify({ accountId: 'team-b', projects: ['proj-b'] }));
  upstream = await startFakeOpenAI();
  langfuse = await startFakeLangfuse({
    projects: [
      { projectId: 'proj-a', publicKey: 'pk-a', secretKey: 'sk-a' },
      { projectId: 'proj-b', publicKey: 'pk-b', secretKey: 'sk-b' },
    ],
  });
  gw = await startGateway(
    {
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
    CustomGatewayModule,
  );
});
afterAll(async () => {
  await gw.close();
  await Promise.all([upstream.close(), langfuse.close()]);
  await redis.hdel(API_KEYS_HASH, createHash('sha256').update(KEY).digest('hex'));
  await redis.quit();
});

const client = (path: string) => new OpenAI({ baseURL: `${gw.url}${path}`, apiKey: 'sk-provider', defaultHeaders: { 'x-gateway-key': KEY }, maxRetries: 0 });
const get = (path: string, key = KEY) => fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${key}` } });

it('the custom auth provider decides: no or unknown key → 401, /health open', async () => {
  expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  expect((await fetch(`${gw.url}/whoami`)).status).toBe(401);
  expect((await get('/whoami', 'not-a-key')).status).toBe(401);
});

it('the extra route sees the account', async () => {
  expect(await json(await get('/whoami'))).toEqual({ account_id: 'team-b', projects: ['proj-b'] });
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
