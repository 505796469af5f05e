/** Built-in API-key auth: scopes, 401/403, open /health, /metrics behind a key or METRICS_ALLOW, gateway keys never forwarded. */
import { NestFactory } from '@nestjs/core';
import OpenAI from 'openai';
import { GatewayModule } from '@app/gateway';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { json, metadataPath, StartedGateway, startGateway, TestSettings, writeSecrets } from './support/gateway';

const KEY_A = 'gw-team-a-0123456789abcdef';
const KEY_ALL = 'gw-ops-0123456789abcdefgh';

const SECRETS = writeSecrets(`
langfuse_keys:
  proj-a: { public_key: pk-a, secret_key: sk-a-secret }
  proj-b: { public_key: pk-b, secret_key: sk-b-secret }
default_project_id: proj-a
api_keys:
  - { account_id: team-a, key: ${KEY_A}, projects: [proj-a] }
  - { account_id: ops, key: ${KEY_ALL} }
`);

let upstream: FakeOpenAI;
let gw: StartedGateway;
const apiKeyGateway = (extra: TestSettings = {}) => startGateway({ AUTH_PROVIDER: 'api_key', LITELLM_URL: `${upstream.url}/v1`, SECRETS_PATH: SECRETS, ...extra });
beforeAll(async () => {
  upstream = await startFakeOpenAI();
  gw = await apiKeyGateway();
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

describe('/metrics', () => {
  const scrape = (g: StartedGateway, headers: Record<string, string> = {}) => fetch(`${g.url}/metrics`, { headers });

  it('needs a gateway key under AUTH_PROVIDER=api_key', async () => {
    const none = await scrape(gw);
    expect(none.status).toBe(401);
    expect((await json(none)).error.code).toBe('unauthenticated');
    expect((await scrape(gw, { 'x-gateway-key': 'gw-wrong-0123456789abcdef' })).status).toBe(401);
  });

  it('a valid key (X-Gateway-Key or Bearer, as Prometheus sends it) gets the Prometheus text', async () => {
    const credentials: Record<string, string>[] = [{ 'x-gateway-key': KEY_A }, { authorization: `Bearer ${KEY_ALL}` }];
    for (const headers of credentials) {
      const res = await scrape(gw, headers);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).toContain('gateway_http_requests_total');
    }
  });

  it('an address in METRICS_ALLOW scrapes without a key; everything else still needs one', async () => {
    const allowed = await apiKeyGateway({ METRICS_ALLOW: '10.0.0.0/8, 127.0.0.1/32' });
    const other = await apiKeyGateway({ METRICS_ALLOW: '10.0.0.0/8,fd00::/8' });
    try {
      const res = await scrape(allowed);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect((await fetch(`${allowed.url}/v1/traces?tags=rollout_id:r`)).status).toBe(401);
      expect((await scrape(other)).status).toBe(401);
      expect((await scrape(other, { 'x-gateway-key': KEY_A })).status).toBe(200);
    } finally {
      await Promise.all([allowed.close(), other.close()]);
    }
  });

  it('X-Forwarded-For does not put a caller on the allow-list', async () => {
    const allowed = await apiKeyGateway({ METRICS_ALLOW: '10.0.0.0/8' });
    try {
      expect((await scrape(allowed, { 'x-forwarded-for': '10.1.2.3' })).status).toBe(401);
    } finally {
      await allowed.close();
    }
  });

  it('is open with AUTH_PROVIDER=none, as in the original', async () => {
    const open = await startGateway({ LITELLM_URL: `${upstream.url}/v1` });
    try {
      const res = await scrape(open);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    } finally {
      await open.close();
    }
  });

  it('a METRICS_ALLOW that is not addresses stops start-up naming the variable and the bad entries', async () => {
    const module = GatewayModule.forRoot({ settings: { METRICS_ALLOW: '10.0.0.0/8,10.0.0.0/33,prometheus.svc' }, env: {} });
    await expect(NestFactory.create(module, { logger: false, abortOnError: false })).rejects.toThrow(
      /METRICS_ALLOW must be IP addresses and CIDR ranges separated by commas.*\(not: 10\.0\.0\.0\/33, prometheus\.svc\)/,
    );
  });
});
