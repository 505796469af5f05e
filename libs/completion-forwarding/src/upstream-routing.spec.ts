import { joinUrl } from './catch-all.controller';
import { UpstreamAddressPolicy } from './ssrf-guard';
import { parseProviderOverrides, UpstreamTargetResolver } from './upstream-target.resolver';

const resolver = (over: Record<string, unknown> = {}) => {
  const settings = { DEFAULT_UPSTREAM_URL: 'https://api.openai.com/v1', ALLOW_PRIVATE_UPSTREAMS: false, LITELLM_TRUSTED: false, ...over };
  return new UpstreamTargetResolver(settings as never, UpstreamAddressPolicy.fromSettings(settings));
};

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
      kind: 'litellm', baseUrl: 'http://litellm:4000', model: 'fireworks_ai/x', trustedForLangfuseKeys: false, guardPrivate: false, name: 'the LITELLM_URL upstream',
    });
    expect(resolver({ LITELLM_URL: 'http://litellm:4000', LITELLM_TRUSTED: true }).resolve('m').trustedForLangfuseKeys).toBe(true);
  });

  it('encoded_base_url overrides everything, is guarded, and never gets Langfuse keys', () => {
    const t = resolver({ LITELLM_URL: 'http://litellm:4000', LITELLM_TRUSTED: true }).resolve('openai/ft-model', new URL('https://my.host/v1/'));
    expect(t).toEqual({ kind: 'encoded', baseUrl: 'https://my.host/v1', model: 'ft-model', trustedForLangfuseKeys: false, guardPrivate: true, name: 'the upstream my.host' });
  });

  it('ALLOW_PRIVATE_UPSTREAMS=true turns the guard off, unless UPSTREAM_DENY_CIDRS still has something to refuse', () => {
    const url = new URL('http://10.0.0.5:8000/v1');
    expect(resolver({ ALLOW_PRIVATE_UPSTREAMS: true }).resolve('m', url).guardPrivate).toBe(false);
    expect(resolver({ ALLOW_PRIVATE_UPSTREAMS: true, UPSTREAM_DENY_CIDRS: '10.0.0.0/8' }).resolve('m', url).guardPrivate).toBe(true);
    expect(resolver({ UPSTREAM_ALLOW_CIDRS: '0.0.0.0/0' }).resolve('m', url).guardPrivate).toBe(true);
  });

  it('names operator-configured upstreams by their setting or provider in client messages, never by host', () => {
    expect(resolver().resolve('fireworks_ai/m').name).toBe('the "fireworks_ai" provider');
    expect(resolver().resolve('gpt-4o').name).toBe('the DEFAULT_UPSTREAM_URL upstream');
    expect(resolver().defaultName()).toBe('the DEFAULT_UPSTREAM_URL upstream');
    expect(resolver({ LITELLM_URL: 'http://litellm:4000' }).defaultName()).toBe('the LITELLM_URL upstream');
  });

  it('a model prefix that is an Object.prototype key is no provider', () => {
    expect(resolver().resolve('constructor/m')).toMatchObject({ kind: 'default', model: 'constructor/m' });
    expect(resolver().resolve('__proto__/m')).toMatchObject({ kind: 'default', model: '__proto__/m' });
  });

  it('UPSTREAM_PROVIDERS overrides and extends the table, and rejects garbage', () => {
    expect(parseProviderOverrides('fireworks_ai=http://127.0.0.1:1/v1/, mine=https://x.example/v1')).toEqual({ fireworks_ai: 'http://127.0.0.1:1/v1', mine: 'https://x.example/v1' });
    expect(resolver({ UPSTREAM_PROVIDERS: 'mine=https://x.example/v1' }).resolve('mine/m')).toMatchObject({ baseUrl: 'https://x.example/v1', model: 'm' });
    expect(() => parseProviderOverrides('nonsense')).toThrow(/UPSTREAM_PROVIDERS/);
  });
});

describe('joinUrl (catch-all)', () => {
  it('does not double /v1 and keeps the query', () => {
    expect(joinUrl('https://api.openai.com/v1', '/v1/models?x=1')).toBe('https://api.openai.com/v1/models?x=1');
    expect(joinUrl('https://api.openai.com/v1', '/models')).toBe('https://api.openai.com/v1/models');
    expect(joinUrl('http://litellm:4000', '/v1/models')).toBe('http://litellm:4000/v1/models');
  });
});
