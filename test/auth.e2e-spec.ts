/** Built-in API-key auth: scopes, 401/403, open /health, gateway keys never forwarded. */
import OpenAI from 'openai';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { json, metadataPath, StartedGateway, startGateway, writeSecrets } from './support/gateway';

const KEY_A = 'gw-team-a-0123456789abcdef';
const KEY_ALL = 'gw-ops-0123456789abcdefgh';

let upstream: FakeOpenAI;
let gw: StartedGateway;
beforeAll(async () => {
  upstream = await startFakeOpenAI();
  gw = await startGateway({
    AUTH_PROVIDER: 'api_key',
    LITELLM_URL: `${upstream.url}/v1`,
    SECRETS_PATH: writeSecrets(`
langfuse_keys:
  proj-a: { public_key: pk-a, secret_key: sk-a-secret }
  proj-b: { public_key: pk-b, secret_key: sk-b-secret }
default_project_id: proj-a
api_keys:
  - { account_id: team-a, key: ${KEY_A}, projects: [proj-a] }
  - { account_id: ops, key: ${KEY_ALL} }
`),
  });
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
});
beforeEach(() => upstream.reset());

const post = (path: string, headers: Record<string, string>) =>
  fetch(`${gw.url}${path}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'm', messages: [] }) });

it('/health stays open', async () => {
  expect((await fetch(`${gw.url}/health`)).status).toBe(200);
});

it('no key → 401 that says how to send one', async () => {
  const res = await post(metadataPath({ rollout: 'r-auth' }), {});
  expect(res.status).toBe(401);
  expect((await json(res)).detail).toMatch(/X-Gateway-Key/);
  expect(upstream.requests).toHaveLength(0);
});

it('a scoped key may use its project (X-Gateway-Key) and the provider key is forwarded', async () => {
  const c = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout: 'r-auth', project: 'proj-a' })}`, apiKey: 'sk-provider', defaultHeaders: { 'x-gateway-key': KEY_A }, maxRetries: 0 });
  await c.chat.completions.create({ model: 'm', messages: [] });
  expect(upstream.requests[0].headers.authorization).toBe('Bearer sk-provider');
  expect(upstream.requests[0].headers['x-gateway-key']).toBeUndefined();
});

it('a scoped key on another project → 403', async () => {
  const res = await post(metadataPath({ rollout: 'r-auth', project: 'proj-b' }), { 'x-gateway-key': KEY_A });
  expect(res.status).toBe(403);
  expect((await json(res)).detail).toMatch(/may not use project "proj-b"/);
});

it('an unscoped key may use every project; a gateway key sent as Bearer is not forwarded upstream', async () => {
  const res = await post('/project_id/proj-b', { authorization: `Bearer ${KEY_ALL}` });
  expect(res.status).toBe(200);
  expect(upstream.requests[0].headers.authorization).toBeUndefined();
});

it('a wrong key → 401', async () => {
  expect((await post('', { 'x-gateway-key': 'gw-wrong-0123456789abcdef' })).status).toBe(401);
});
