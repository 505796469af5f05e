/**
 * The SSRF guard on encoded_base_url end to end: the official openai SDK, and
 * plain HTTP calls shaped exactly as the eval-protocol SDK sends them (URL-safe
 * base64 WITH `=` padding in `/encoded_base_url/{b}`, `Authorization: Bearer`),
 * → the real gateway → the fake OpenAI upstream, with the real Redis.
 *
 * The fake upstream listens on 127.0.0.1 (refused by default). A private
 * upstream is tested for real when this machine has a private interface
 * address to listen on (10/8, 172.16/12, 192.168/16 or fc00::/7; a container
 * usually has one); binding an arbitrary 10.x address is not possible here, so
 * the default's answer for the private IPv4 ranges is tested at the lookup
 * level in libs/completion-forwarding/src/ssrf-guard.spec.ts.
 */
import { NestFactory } from '@nestjs/core';
import Redis from 'ioredis';
import OpenAI from 'openai';
import { randomUUID } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { GatewayModule } from '@app/gateway';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { json, rolloutKey, settleRegistrations, StartedGateway, startGateway, TestSettings, writeSecrets } from './support/gateway';
import { testRedisUrl } from './support/redis';

const PROVIDER_KEY = 'sk-provider-key-123';
const MODEL = 'fireworks_ai/accounts/fireworks/models/llama-v3p3-70b-instruct';
const SECRETS = writeSecrets(`
langfuse_keys:
  proj-a: { public_key: pk-lf-ssrf, secret_key: sk-lf-ssrf-SECRET, host: "http://langfuse.internal.example:3000" }
default_project_id: proj-a
`);

/** A non-loopback address of this machine in a range the default allows (private or unique-local), if it has one. */
function privateInterfaceAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4' && /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(a.address)) return a.address;
      if (a.family === 'IPv6' && /^f[cd]/i.test(a.address) && !/^fd00:ec2::254$/i.test(a.address)) return a.address;
    }
  }
  return undefined;
}
const PRIVATE_ADDRESS = privateInterfaceAddress();
const itWithPrivateAddress = PRIVATE_ADDRESS ? it : it.skip;

let upstream: FakeOpenAI;
let privateUpstream: FakeOpenAI | undefined;
let redis: Redis;

beforeAll(async () => {
  upstream = await startFakeOpenAI();
  if (PRIVATE_ADDRESS) privateUpstream = await startFakeOpenAI({ host: PRIVATE_ADDRESS });
  redis = new Redis(testRedisUrl());
});
afterAll(async () => {
  await upstream.close();
  await privateUpstream?.close();
  await redis.quit();
});
beforeEach(() => {
  upstream.reset();
  privateUpstream?.reset();
});

/** base64.urlsafe_b64encode(url) as eval-protocol writes it: URL-safe alphabet, `=` padding kept. */
function evalProtocolEncode(url: string): string {
  return Buffer.from(url).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** A base URL on `origin` whose encoding is padded (the case the gateway must not trip on). */
function paddedBaseUrl(origin: string): string {
  const url = [`${origin}/v1`, `${origin}/v1/`].find((u) => evalProtocolEncode(u).endsWith('='))!;
  expect(evalProtocolEncode(url)).toMatch(/=$/);
  return url;
}

/** The base URL eval-protocol hands the OpenAI client: metadata path, then the encoded upstream, no /v1. */
function evalProtocolBase(gw: StartedGateway, rollout: string, upstreamBase: string): string {
  return `${gw.url}/rollout_id/${rollout}/invocation_id/inv-1/experiment_id/exp-1/run_id/run-1/row_id/row-1/encoded_base_url/${evalProtocolEncode(upstreamBase)}`;
}

const sdk = (base: string) => new OpenAI({ baseURL: base, apiKey: PROVIDER_KEY, maxRetries: 0, timeout: 10_000 });

/** POST {base}/chat/completions as eval-protocol's client sends it. */
function plainPost(base: string, body: object = { model: MODEL, messages: [{ role: 'user', content: 'Hello' }] }): Promise<Response> {
  return fetch(`${base}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${PROVIDER_KEY}` },
    body: JSON.stringify(body),
  });
}

const rid = () => `ssrf-${randomUUID()}`;
async function recorded(gw: StartedGateway, rollout: string): Promise<string[]> {
  await settleRegistrations(gw);
  return redis.smembers(rolloutKey(gw.keyPrefix, 'proj-a', rollout, 'ids'));
}

function gateway(settings: TestSettings = {}): Promise<StartedGateway> {
  return startGateway({ REDIS_URL: testRedisUrl(), SECRETS_PATH: SECRETS, DEFAULT_UPSTREAM_URL: 'http://127.0.0.1:9/unused', ...settings });
}

/** The SDK and the plain call both get this 403, and nothing is sent upstream or recorded. */
async function expectRefused(gw: StartedGateway, upstreamBase: string, message: string | RegExp, target: FakeOpenAI = upstream): Promise<void> {
  const rollout = rid();
  const base = evalProtocolBase(gw, rollout, upstreamBase);
  const sentBefore = target.requests.length;

  const err = await sdk(base).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
  expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
  expect(err.status).toBe(403);
  expect(err.code).toBe('forbidden_upstream');
  expect(err.message).toMatch(message);
  expect(err.headers.get('x-insertion-id')).toBeNull();

  const res = await plainPost(base);
  expect(res.status).toBe(403);
  expect(res.headers.get('x-insertion-id')).toBeNull();
  const body = await json(res);
  expect(body.error).toMatchObject({ code: 'forbidden_upstream', type: 'invalid_request_error' });
  expect(body.detail).toMatch(message);
  expect(JSON.stringify(body)).not.toMatch(/langfuse\.internal|sk-lf|pk-lf|sk-provider/);

  expect(target.requests).toHaveLength(sentBefore);
  expect(await recorded(gw, rollout)).toEqual([]);
}

/** The SDK (plain and streaming) and the plain call all get through, tracked, with the client's key. */
async function expectForwarded(gw: StartedGateway, upstreamBase: string, target: FakeOpenAI = upstream): Promise<void> {
  const rollout = rid();
  const base = evalProtocolBase(gw, rollout, upstreamBase);
  const sentBefore = target.requests.length;

  const { data, response } = await sdk(base).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello SDK' }] }).withResponse();
  expect(data.choices[0].message.content).toContain('Hello SDK');
  const sdkId = response.headers.get('x-insertion-id');
  expect(sdkId).toBeTruthy();

  const stream = await sdk(base).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'stream me' }], stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  expect(text).toContain('stream me');

  const res = await plainPost(base);
  expect(res.status).toBe(200);
  const plainId = res.headers.get('x-insertion-id');
  expect(plainId).toBeTruthy();
  expect((await json(res)).choices[0].message.content).toContain('Hello');

  const sent3 = target.requests.slice(sentBefore);
  expect(sent3).toHaveLength(3);
  for (const sent of sent3) {
    expect(sent.path).toBe(`${new URL(upstreamBase).pathname.replace(/\/$/, '')}/chat/completions`);
    expect(sent.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(sent.body.model).toBe('accounts/fireworks/models/llama-v3p3-70b-instruct');
    expect(sent.body.metadata.tags).toContain(`rollout_id:${rollout}`);
  }
  const ids = await recorded(gw, rollout);
  expect(ids).toHaveLength(3);
  expect(ids).toEqual(expect.arrayContaining([sdkId, plainId]));
}

describe('the default policy', () => {
  let gw: StartedGateway;
  beforeAll(async () => {
    gw = await gateway();
  });
  afterAll(() => gw.close());

  it('refuses the fake upstream on 127.0.0.1 with a 403 naming UPSTREAM_ALLOW_CIDRS', async () => {
    await expectRefused(gw, paddedBaseUrl(upstream.url), 'encoded_base_url points at 127.0.0.1, a loopback address; list it in UPSTREAM_ALLOW_CIDRS to allow it.');
    expect(gw.logs.join('\n')).toContain(`Refused the encoded_base_url upstream 127.0.0.1:${upstream.port} at 127.0.0.1: a loopback address, not in UPSTREAM_ALLOW_CIDRS.`);
  });

  it('refuses localhost, a loopback name', async () => {
    await expectRefused(gw, paddedBaseUrl(`http://localhost:${upstream.port}`), 'encoded_base_url host localhost resolves to 127.0.0.1, a loopback address; list it in UPSTREAM_ALLOW_CIDRS to allow it.');
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data', /points at 169\.254\.169\.254, the cloud metadata address; list it in UPSTREAM_ALLOW_CIDRS/],
    ['http://100.100.100.200/latest/meta-data', /points at 100\.100\.100\.200, a cloud metadata address \(Alibaba Cloud\)/],
    ['http://[fd00:ec2::254]/latest/meta-data', /points at fd00:ec2::254, a cloud metadata address \(AWS, IPv6\)/],
    ['http://[fe80::1]/v1', /points at fe80::1, a link-local address/],
    ['http://[::ffff:a9fe:a9fe]/v1', /points at ::ffff:a9fe:a9fe, which carries 169\.254\.169\.254, the cloud metadata address/],
    ['http://[64:ff9b::7f00:1]/v1', /points at 64:ff9b::7f00:1, which carries 127\.0\.0\.1, a loopback address/],
    ['http://0x7f.1/v1', /points at 127\.0\.0\.1, a loopback address/],
  ])('refuses %s', async (base, message) => {
    await expectRefused(gw, base, message);
  });

  itWithPrivateAddress(`allows an upstream on this machine's private address (${PRIVATE_ADDRESS ?? 'none here'})`, async () => {
    await expectForwarded(gw, paddedBaseUrl(privateUpstream!.url), privateUpstream);
  });
});

describe('UPSTREAM_ALLOW_CIDRS=127.0.0.1/32 (a sidecar)', () => {
  let gw: StartedGateway;
  beforeAll(async () => {
    gw = await gateway({ UPSTREAM_ALLOW_CIDRS: '127.0.0.1/32' });
  });
  afterAll(() => gw.close());

  it('the fake upstream on 127.0.0.1 is reached and the calls are tracked', async () => {
    await expectForwarded(gw, paddedBaseUrl(upstream.url));
  });

  it('localhost reaches it too (only through 127.0.0.1)', async () => {
    await expectForwarded(gw, paddedBaseUrl(`http://localhost:${upstream.port}`));
  });

  it('other loopback and metadata addresses stay refused', async () => {
    await expectRefused(gw, `http://127.0.0.2:${upstream.port}/v1`, /points at 127\.0\.0\.2, a loopback address/);
    await expectRefused(gw, 'http://169.254.169.254/v1', /the cloud metadata address/);
  });
});

describe('UPSTREAM_DENY_CIDRS tightens the default', () => {
  let gw: StartedGateway;
  beforeAll(async () => {
    gw = await gateway({ UPSTREAM_DENY_CIDRS: '10.0.0.0/8, fc00::/7, 127.0.0.0/8', UPSTREAM_ALLOW_CIDRS: '127.0.0.1/32' });
  });
  afterAll(() => gw.close());

  it('a denied private range is refused, naming UPSTREAM_DENY_CIDRS (IPv6 forms that carry it too)', async () => {
    await expectRefused(gw, 'http://10.1.2.3:8000/v1', 'encoded_base_url points at 10.1.2.3, an address UPSTREAM_DENY_CIDRS refuses.');
    await expectRefused(gw, 'http://[::ffff:10.1.2.3]:8000/v1', 'encoded_base_url points at ::ffff:a01:203, an address UPSTREAM_DENY_CIDRS refuses.');
  });

  itWithPrivateAddress(`this machine's private address is refused now (${PRIVATE_ADDRESS ?? 'none here'})`, async () => {
    const denied = await gateway({ UPSTREAM_DENY_CIDRS: PRIVATE_ADDRESS!.includes(':') ? 'fc00::/7' : '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16' });
    try {
      await expectRefused(denied, paddedBaseUrl(privateUpstream!.url), /an address UPSTREAM_DENY_CIDRS refuses/, privateUpstream);
    } finally {
      await denied.close();
    }
  });

  it('the longer prefix wins: 127.0.0.1/32 allowed inside a denied 127.0.0.0/8 is reached, 127.0.0.2 is not', async () => {
    await expectForwarded(gw, paddedBaseUrl(upstream.url));
    await expectRefused(gw, `http://127.0.0.2:${upstream.port}/v1`, 'encoded_base_url points at 127.0.0.2, an address UPSTREAM_DENY_CIDRS refuses.');
  });

  it('a name refused by the deny list after its lookup is not told what it resolved to', async () => {
    const denied = await gateway({ UPSTREAM_DENY_CIDRS: '127.0.0.0/8,::1' });
    try {
      await expectRefused(denied, paddedBaseUrl(`http://api.localhost:${upstream.port}`), 'encoded_base_url host api.localhost resolves to an address UPSTREAM_DENY_CIDRS refuses.');
      // The operator's log says which.
      expect(denied.logs.join('\n')).toContain(`Refused the encoded_base_url upstream api.localhost:${upstream.port} at 127.0.0.1: listed in UPSTREAM_DENY_CIDRS.`);
    } finally {
      await denied.close();
    }
  });
});

describe('ALLOW_PRIVATE_UPSTREAMS=true (compatibility)', () => {
  it('reaches loopback as before, warning at start-up', async () => {
    const gw = await gateway({ ALLOW_PRIVATE_UPSTREAMS: 'true' });
    try {
      expect(gw.logs.join('\n')).toMatch(/ALLOW_PRIVATE_UPSTREAMS=true: an encoded_base_url may reach any address, loopback and cloud metadata included/);
      await expectForwarded(gw, paddedBaseUrl(upstream.url));
    } finally {
      await gw.close();
    }
  });

  it('still honours UPSTREAM_DENY_CIDRS', async () => {
    const gw = await gateway({ ALLOW_PRIVATE_UPSTREAMS: 'true', UPSTREAM_DENY_CIDRS: '169.254.0.0/16' });
    try {
      await expectForwarded(gw, paddedBaseUrl(upstream.url));
      await expectRefused(gw, 'http://169.254.169.254/v1', 'encoded_base_url points at 169.254.169.254, an address UPSTREAM_DENY_CIDRS refuses.');
    } finally {
      await gw.close();
    }
  });
});

describe('operator-configured upstreams are trusted', () => {
  it('LITELLM_URL on 127.0.0.1 is reached under the default policy', async () => {
    const gw = await gateway({ LITELLM_URL: `${upstream.url}/v1` });
    try {
      const { response } = await sdk(`${gw.url}/rollout_id/${rid()}/invocation_id/i/experiment_id/e/run_id/u/row_id/w`)
        .chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })
        .withResponse();
      expect(response.status).toBe(200);
      expect(upstream.requests).toHaveLength(1);
    } finally {
      await gw.close();
    }
  });
});

describe('bad lists stop start-up', () => {
  it.each([
    ['UPSTREAM_ALLOW_CIDRS', '127.0.0.1/32,127.0.0.1/33,sidecar', /UPSTREAM_ALLOW_CIDRS must be IP addresses and CIDR ranges separated by commas.*\(not: 127\.0\.0\.1\/33, sidecar\)/],
    ['UPSTREAM_DENY_CIDRS', '10.1.2.3/8', /UPSTREAM_DENY_CIDRS must be .*\(not: 10\.1\.2\.3\/8 \(bits set past \/8: 10\.0\.0\.0\/8 or 10\.1\.2\.3\/32\?\)\)/],
  ])('%s=%s', async (name, value, message) => {
    const module = GatewayModule.forRoot({ settings: { [name]: value }, env: {} });
    await expect(NestFactory.create(module, { logger: false, abortOnError: false })).rejects.toThrow(message);
  });
});
