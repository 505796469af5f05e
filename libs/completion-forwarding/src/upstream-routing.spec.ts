import { joinUrl } from './catch-all.controller';
import { isPrivateAddress, isRefusedHost } from './ssrf-guard';
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
      kind: 'litellm', baseUrl: 'http://litellm:4000', model: 'fireworks_ai/x', trustedForLangfuseKeys: false, guardPrivate: false, name: 'the LITELLM_URL upstream',
    });
    expect(resolver({ LITELLM_URL: 'http://litellm:4000', LITELLM_TRUSTED: true }).resolve('m').trustedForLangfuseKeys).toBe(true);
  });

  it('encoded_base_url overrides everything, is guarded, and never gets Langfuse keys', () => {
    const t = resolver({ LITELLM_URL: 'http://litellm:4000', LITELLM_TRUSTED: true }).resolve('openai/ft-model', new URL('https://my.host/v1/'));
    expect(t).toEqual({ kind: 'encoded', baseUrl: 'https://my.host/v1', model: 'ft-model', trustedForLangfuseKeys: false, guardPrivate: true, name: 'the upstream my.host' });
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

describe('isPrivateAddress', () => {
  it.each([
    // IPv4
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['100.64.0.1', 'CGNAT'],
    ['0.0.0.0', 'this network'],
    ['192.0.2.10', 'documentation'],
    ['198.51.100.1', 'documentation'],
    ['203.0.113.7', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    // IPv6 of its own
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback, uncompressed'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local with a zone, as DNS may answer'],
    ['fd00::1', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['fec0::1', 'site-local'],
    ['feff::1', 'site-local, top of fec0::/10'],
    ['ff02::1', 'multicast'],
    ['100::1', 'discard'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation (RFC 9637)'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
    ['2001:2::1', 'benchmarking (IETF block)'],
    ['64:ff9b:1::808:808', 'NAT64 local-use, whatever it embeds'],
    // IPv6 that embeds a refused IPv4 address
    ['::ffff:127.0.0.1', 'IPv4-mapped'],
    ['::ffff:7f00:1', 'IPv4-mapped, hex'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped metadata address, hex'],
    ['::ffff:0:127.0.0.1', 'IPv4-translated'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['::7f00:1', 'IPv4-compatible, hex (as the URL parser writes it)'],
    ['::a00:1', 'IPv4-compatible 10.0.0.1'],
    ['64:ff9b::7f00:1', 'NAT64 of 127.0.0.1'],
    ['64:ff9b::169.254.169.254', 'NAT64 of the metadata address'],
    ['64:ff9b::c0a8:101', 'NAT64 of 192.168.1.1'],
    ['2002:7f00:1::', '6to4 of 127.0.0.1'],
    ['2002:a9fe:a9fe::1', '6to4 of 169.254.169.254'],
    ['2002:c0a8:101:1::1', '6to4 of 192.168.1.1'],
    // not an address at all
    ['localhost', 'a name'],
    ['', 'empty'],
  ])('%s (%s) is refused', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each([
    ['8.8.8.8', 'public IPv4'],
    ['1.1.1.1', 'public IPv4'],
    ['172.32.0.1', 'just outside 172.16/12'],
    ['2606:4700:4700::1111', 'public IPv6'],
    ['2001:4860:4860::8888', 'public IPv6 in 2001::/16, outside the IETF block'],
    ['::ffff:8.8.8.8', 'IPv4-mapped public'],
    ['::808:808', 'IPv4-compatible public'],
    ['64:ff9b::808:808', 'NAT64 of 8.8.8.8'],
    ['64:ff9b::1.1.1.1', 'NAT64 of 1.1.1.1, dotted'],
    ['2002:808:808::1', '6to4 of 8.8.8.8'],
  ])('%s (%s) is allowed', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});

describe('isRefusedHost (the URL hostname, before any lookup)', () => {
  const hostOf = (url: string) => new URL(url).hostname;

  it.each([
    'http://localhost/v1',
    'http://LOCALHOST./v1',
    'http://api.localhost:8000/v1',
    'http://127.1/v1',
    'http://0x7f.1/v1',
    'http://0177.0.0.1/v1',
    'http://2130706433/v1',
    'http://0/v1',
    'http://127.0.0.1./v1',
    'http://[::1]:8000/v1',
    'http://[::127.0.0.1]/v1',
    'http://[0:0:0:0:0:ffff:127.0.0.1]/v1',
    'http://[64:ff9b::127.0.0.1]/v1',
    'http://[64:ff9b::7f00:1]/v1',
    'http://[2002:7f00:1::]/v1',
    'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/v1',
    'http://[fec0::1]/v1',
    'http://[fd12:3456::1]/v1',
  ])('%s is refused', (url) => {
    expect(isRefusedHost(hostOf(url))).toBe(true);
  });

  it.each(['https://api.openai.com/v1', 'http://my-vllm.example:8000/v1', 'http://8.8.8.8/v1', 'http://[2606:4700:4700::1111]/v1', 'http://[64:ff9b::808:808]/v1', 'http://localhost.example.com/v1'])(
    '%s is left to the lookup or allowed',
    (url) => {
      expect(isRefusedHost(hostOf(url))).toBe(false);
    },
  );
});

describe('joinUrl (catch-all)', () => {
  it('does not double /v1 and keeps the query', () => {
    expect(joinUrl('https://api.openai.com/v1', '/v1/models?x=1')).toBe('https://api.openai.com/v1/models?x=1');
    expect(joinUrl('https://api.openai.com/v1', '/models')).toBe('https://api.openai.com/v1/models');
    expect(joinUrl('http://litellm:4000', '/v1/models')).toBe('http://litellm:4000/v1/models');
  });
});
