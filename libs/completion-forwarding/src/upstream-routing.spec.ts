import { joinUrl } from './catch-all.controller';
import { isPrivateAddress } from './ssrf-guard';
import { parseProviderOverrides, UpstreamTargetResolver } from './upstream-target.resolver';

const resolver = (over: Record<string, unknown> = {}) =>
  new UpstreamTargetResolver({ DEFAULT_UPSTREAM_URL: 'https://api.openai.com/v1', ALLOW_PRIVATE_UPSTREAMS: false, LITELLM_TRUSTED: false, ...over } as never);

describe('UpstreamTargetResolver', () => {
  it('routes by provider prefix and strips it', () => {
    expect(resolver().resolve('fireworks_ai/accounts/fireworks/models/x')).toMatchObject({ kind: 'provider', baseUrl: 'https://api.fireworks.ai/inference/v1', model: 'accounts/fireworks/models/x' });
    expect(resolver().resolve('together_ai/meta/llama')).toMatchObject({ baseUrl: 'https://api.together.xyz/v1', model: 'meta/llama' });
  });

  it('sends unknown prefixes and bare names to DEFAULT_UPSTREAM_URL unchanged', () => {
    expect(resolver().resolve('gpt-4o')).toMatchObject({ kind: 'default', model: 'gpt-4o' });
    expect(resolver().resolve('meta-llama/Llama-3')).toMatchObject({ kind: 'default', model: 'meta-llama/Llama-3' });
  });

  it('LITELLM_URL takes every call with the model unchanged; only a trusted one may get Langfuse keys', () => {
    expect(resolver({ LITELLM_URL: 'http://litellm:4000/' }).resolve('fireworks_ai/x')).toEqual({
      kind: 'litellm', baseUrl: 'http://litellm:4000', model: 'fireworks_ai/x', trustedForLangfuseKeys: false, guardPrivate: false,
    });
    expect(resolver({ LITELLM_URL: 'http://litellm:4000', LITELLM_TRUSTED: true }).resolve('m').trustedForLangfuseKeys).toBe(true);
  });

  it('encoded_base_url overrides everything, is guarded, and never gets Langfuse keys', () => {
    const t = resolver({ LITELLM_URL: 'http://litellm:4000', LITELLM_TRUSTED: true }).resolve('openai/ft-model', new URL('https://my.host/v1/'));
    expect(t).toEqual({ kind: 'encoded', baseUrl: 'https://my.host/v1', model: 'ft-model', trustedForLangfuseKeys: false, guardPrivate: true });
  });

  it('UPSTREAM_PROVIDERS overrides and extends the table, and rejects garbage', () => {
    expect(parseProviderOverrides('fireworks_ai=http://127.0.0.1:1/v1/, mine=https://x.example/v1')).toEqual({ fireworks_ai: 'http://127.0.0.1:1/v1', mine: 'https://x.example/v1' });
    expect(resolver({ UPSTREAM_PROVIDERS: 'mine=https://x.example/v1' }).resolve('mine/m')).toMatchObject({ baseUrl: 'https://x.example/v1', model: 'm' });
    expect(() => parseProviderOverrides('nonsense')).toThrow(/UPSTREAM_PROVIDERS/);
  });
});

describe('isPrivateAddress', () => {
  it.each(['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1'])('%s is private', (a) => {
    expect(isPrivateAddress(a)).toBe(true);
  });
  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '172.32.0.1'])('%s is public', (a) => {
    expect(isPrivateAddress(a)).toBe(false);
  });
});

describe('joinUrl (catch-all)', () => {
  it('does not double /v1 and keeps the query', () => {
    expect(joinUrl('https://api.openai.com/v1', '/v1/models?x=1')).toBe('https://api.openai.com/v1/models?x=1');
    expect(joinUrl('https://api.openai.com/v1', '/models')).toBe('https://api.openai.com/v1/models');
    expect(joinUrl('http://litellm:4000', '/v1/models')).toBe('http://litellm:4000/v1/models');
  });
});
