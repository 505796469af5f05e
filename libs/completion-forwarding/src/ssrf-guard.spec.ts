import { LookupAddress } from 'node:dns';
import { AddressRefusal, RefusedAddressError, Resolve, UpstreamAddressPolicy, UpstreamAddressPolicyOptions } from './ssrf-guard';

const policy = (options: UpstreamAddressPolicyOptions = {}) => new UpstreamAddressPolicy(options);
const refusal = (p: UpstreamAddressPolicy, address: string) => {
  const verdict = p.judge(address);
  return verdict.allowed ? undefined : verdict;
};

describe('the default policy (an internal microservice)', () => {
  it.each([
    // IPv4
    ['127.0.0.1', 'a loopback address'],
    ['127.255.0.9', 'a loopback address'],
    ['0.0.0.0', 'an unspecified ("this network") address'],
    ['169.254.169.254', 'the cloud metadata address'],
    ['169.254.170.2', 'a link-local address (where cloud metadata services live)'],
    ['169.254.0.23', 'a link-local address (where cloud metadata services live)'],
    ['100.100.100.200', 'a cloud metadata address (Alibaba Cloud)'],
    ['168.63.129.16', 'a cloud platform address (Azure WireServer)'],
    ['192.0.0.192', 'an IETF protocol address'],
    ['192.0.2.10', 'a documentation address'],
    ['198.51.100.1', 'a documentation address'],
    ['203.0.113.7', 'a documentation address'],
    ['192.88.99.1', 'a 6to4 relay address'],
    ['198.18.0.1', 'a benchmarking address'],
    ['198.19.255.255', 'a benchmarking address'],
    ['224.0.0.1', 'a multicast address'],
    ['239.255.255.250', 'a multicast address'],
    ['240.0.0.1', 'a reserved address'],
    ['255.255.255.255', 'the broadcast address'],
    // IPv6 of its own
    ['::', 'the unspecified address'],
    ['::1', 'a loopback address'],
    ['0:0:0:0:0:0:0:1', 'a loopback address'],
    ['fe80::1', 'a link-local address'],
    ['fe80::1%eth0', 'a link-local address'],
    ['febf::1', 'a link-local address'],
    ['fec0::1', 'a site-local address'],
    ['feff::1', 'a site-local address'],
    ['ff02::1', 'a multicast address'],
    ['100::1', 'a discard address'],
    ['2001:db8::1', 'a documentation address'],
    ['3fff::1', 'a documentation address'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'a Teredo address (where it leads depends on a relay)'],
    ['2001:2::1', 'an IETF protocol address'],
    ['64:ff9b:1::808:808', 'a local-use NAT64 address (the IPv4 address it carries cannot be located)'],
    ['fd00:ec2::254', 'a cloud metadata address (AWS, IPv6)'],
  ])('%s is refused as %s, naming UPSTREAM_ALLOW_CIDRS', (address, reason) => {
    expect(refusal(policy(), address)).toMatchObject({ reason, setting: 'UPSTREAM_ALLOW_CIDRS' });
  });

  it.each([
    ['10.1.2.3', 'RFC 1918'],
    ['10.255.255.255', 'RFC 1918'],
    ['172.16.0.1', 'RFC 1918'],
    ['172.31.255.254', 'RFC 1918'],
    ['192.168.1.1', 'RFC 1918'],
    ['100.64.0.1', 'CGNAT'],
    ['100.100.100.199', 'CGNAT, next to the Alibaba metadata address'],
    ['100.127.255.255', 'CGNAT'],
    ['fd00::1', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fd00:ec2::253', 'unique-local, next to the AWS metadata address'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public, just outside 172.16/12'],
    ['169.253.255.255', 'public, just below link-local'],
    ['2606:4700:4700::1111', 'public IPv6'],
    ['2001:4860:4860::8888', 'public IPv6 in 2001::/16, outside the IETF block'],
  ])('%s (%s) is allowed', (address) => {
    expect(policy().judge(address)).toEqual({ allowed: true });
  });

  it('anything that is not an IP address is refused', () => {
    expect(refusal(policy(), 'localhost')).toMatchObject({ reason: 'not an IP address' });
    expect(refusal(policy(), '')).toMatchObject({ reason: 'not an IP address' });
  });
});

describe('IPv6 forms that embed an IPv4 address are judged by it too', () => {
  it.each([
    ['::ffff:127.0.0.1', '127.0.0.1', 'IPv4-mapped'],
    ['::ffff:7f00:1', '127.0.0.1', 'IPv4-mapped, hex'],
    ['::ffff:a9fe:a9fe', '169.254.169.254', 'IPv4-mapped metadata address, hex'],
    ['::ffff:0:127.0.0.1', '127.0.0.1', 'IPv4-translated'],
    ['::127.0.0.1', '127.0.0.1', 'IPv4-compatible'],
    ['::7f00:1', '127.0.0.1', 'IPv4-compatible, hex (as the URL parser writes it)'],
    ['64:ff9b::7f00:1', '127.0.0.1', 'NAT64'],
    ['64:ff9b::169.254.169.254', '169.254.169.254', 'NAT64 of the metadata address'],
    ['64:ff9b::6464:64c8', '100.100.100.200', 'NAT64 of the Alibaba metadata address'],
    ['2002:7f00:1::', '127.0.0.1', '6to4'],
    ['2002:a9fe:a9fe::1', '169.254.169.254', '6to4 of the metadata address'],
  ])('%s carries %s (%s): refused', (address, carried) => {
    expect(refusal(policy(), address)).toMatchObject({ address: carried, embeddedIn: address, setting: 'UPSTREAM_ALLOW_CIDRS' });
  });

  it.each([
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::a00:1', 'IPv4-compatible 10.0.0.1'],
    ['64:ff9b::c0a8:101', 'NAT64 of 192.168.1.1'],
    ['2002:c0a8:101:1::1', '6to4 of 192.168.1.1'],
    ['::ffff:8.8.8.8', 'IPv4-mapped public'],
    ['64:ff9b::1.1.1.1', 'NAT64 of 1.1.1.1, dotted'],
    ['2002:808:808::1', '6to4 of 8.8.8.8'],
  ])('%s (%s) is allowed, as what it carries is', (address) => {
    expect(policy().judge(address)).toEqual({ allowed: true });
  });
});

describe('UPSTREAM_ALLOW_CIDRS and UPSTREAM_DENY_CIDRS', () => {
  it('the allow list opens what the default refuses, and no more', () => {
    const p = policy({ allow: '127.0.0.1/32, fe80::/10' });
    expect(p.judge('127.0.0.1')).toEqual({ allowed: true });
    expect(p.judge('::ffff:127.0.0.1')).toEqual({ allowed: true });
    expect(p.judge('fe80::1%eth0')).toEqual({ allowed: true });
    expect(refusal(p, '127.0.0.2')).toMatchObject({ reason: 'a loopback address' });
    expect(refusal(p, '169.254.169.254')).toMatchObject({ reason: 'the cloud metadata address' });
  });

  it('an address alone is a /32 or /128', () => {
    const p = policy({ allow: '127.0.0.1,::1' });
    expect(p.judge('127.0.0.1')).toEqual({ allowed: true });
    expect(p.judge('::1')).toEqual({ allowed: true });
    expect(p.judge('127.0.0.2').allowed).toBe(false);
  });

  it('the deny list closes what the default allows, IPv6 forms that carry it included', () => {
    const p = policy({ deny: '10.0.0.0/8' });
    for (const address of ['10.1.2.3', '::ffff:10.1.2.3', '::ffff:a01:203', '64:ff9b::a01:203', '2002:a01:203::1']) {
      expect(refusal(p, address)).toMatchObject({ setting: 'UPSTREAM_DENY_CIDRS', address: '10.1.2.3' });
    }
    expect(p.judge('192.168.1.1')).toEqual({ allowed: true });
  });

  it('an IPv6 entry judges the IPv6 address itself: denying 64:ff9b::/96 turns NAT64 off', () => {
    expect(refusal(policy({ deny: '64:ff9b::/96' }), '64:ff9b::808:808')).toMatchObject({ setting: 'UPSTREAM_DENY_CIDRS', address: '64:ff9b::808:808' });
  });

  it('the longer prefix wins between the lists: a hole in a denied range, a closed spot in an allowed one', () => {
    const hole = policy({ deny: '10.0.0.0/8', allow: '10.1.2.3/32' });
    expect(hole.judge('10.1.2.3')).toEqual({ allowed: true });
    expect(refusal(hole, '10.1.2.4')).toMatchObject({ setting: 'UPSTREAM_DENY_CIDRS' });
    const spot = policy({ allow: '127.0.0.0/8', deny: '127.0.0.1/32' });
    expect(refusal(spot, '127.0.0.1')).toMatchObject({ setting: 'UPSTREAM_DENY_CIDRS' });
    expect(spot.judge('127.0.0.2')).toEqual({ allowed: true });
  });

  it('deny wins a tie', () => {
    expect(refusal(policy({ allow: '10.0.0.0/8', deny: '10.0.0.0/8' }), '10.0.0.1')).toMatchObject({ setting: 'UPSTREAM_DENY_CIDRS' });
  });

  it('a list entry beats the built-in table whatever its length', () => {
    expect(policy({ allow: '169.254.0.0/16' }).judge('169.254.169.254')).toEqual({ allowed: true });
    expect(policy({ deny: '100.64.0.0/10' }).judge('100.100.100.200').allowed).toBe(false);
  });

  it('the old public-only default is one deny list', () => {
    const p = policy({ deny: '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7' });
    for (const address of ['10.0.0.1', '172.20.1.1', '192.168.0.10', '100.64.1.1', 'fd00::1', '::ffff:192.168.0.10']) expect(p.judge(address).allowed).toBe(false);
    expect(p.judge('8.8.8.8')).toEqual({ allowed: true });
    expect(refusal(p, '127.0.0.1')).toMatchObject({ setting: 'UPSTREAM_ALLOW_CIDRS' });
  });

  it('a policy built in code from a bad list throws, naming the setting', () => {
    expect(() => policy({ allow: '127.0.0.1/33' })).toThrow(/UPSTREAM_ALLOW_CIDRS: .*127\.0\.0\.1\/33/);
    expect(() => policy({ deny: 'intranet' })).toThrow(/UPSTREAM_DENY_CIDRS: .*intranet/);
  });
});

describe('ALLOW_PRIVATE_UPSTREAMS (compatibility)', () => {
  it('true: every address is allowed and the guard is off', () => {
    const p = UpstreamAddressPolicy.fromSettings({ ALLOW_PRIVATE_UPSTREAMS: true });
    expect(p.active).toBe(false);
    for (const address of ['127.0.0.1', '169.254.169.254', '::1', 'fd00:ec2::254', '64:ff9b::7f00:1']) expect(p.judge(address)).toEqual({ allowed: true });
  });

  it('true with a deny list: only the deny list refuses', () => {
    const p = UpstreamAddressPolicy.fromSettings({ ALLOW_PRIVATE_UPSTREAMS: true, UPSTREAM_DENY_CIDRS: '169.254.0.0/16' });
    expect(p.active).toBe(true);
    expect(p.judge('127.0.0.1')).toEqual({ allowed: true });
    expect(refusal(p, '169.254.169.254')).toMatchObject({ setting: 'UPSTREAM_DENY_CIDRS' });
  });

  it('false (the default): the built-in table applies', () => {
    const p = UpstreamAddressPolicy.fromSettings({ ALLOW_PRIVATE_UPSTREAMS: false });
    expect(p.active).toBe(true);
    expect(p.judge('127.0.0.1').allowed).toBe(false);
  });
});

describe('refusedHost (the URL hostname, before any lookup)', () => {
  const hostOf = (url: string) => new URL(url).hostname;

  it.each([
    'http://127.1/v1',
    'http://0x7f.1/v1',
    'http://0177.0.0.1/v1',
    'http://2130706433/v1',
    'http://0/v1',
    'http://127.0.0.1./v1',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]:8000/v1',
    'http://[::127.0.0.1]/v1',
    'http://[0:0:0:0:0:ffff:127.0.0.1]/v1',
    'http://[64:ff9b::127.0.0.1]/v1',
    'http://[64:ff9b::7f00:1]/v1',
    'http://[2002:7f00:1::]/v1',
    'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/v1',
    'http://[fec0::1]/v1',
    'http://[fd00:ec2::254]/latest/meta-data',
  ])('%s is refused', (url) => {
    expect(policy().refusedHost(hostOf(url))).toBeDefined();
  });

  it.each([
    'https://api.openai.com/v1',
    'http://my-vllm.example:8000/v1',
    'http://localhost:8000/v1', // a name: the lookup decides
    'http://10.0.3.7:8000/v1',
    'http://172.20.0.5/v1',
    'http://192.168.1.20:8000/v1',
    'http://100.64.0.9/v1',
    'http://[fd12:3456::1]/v1',
    'http://8.8.8.8/v1',
    'http://[2606:4700:4700::1111]/v1',
    'http://[64:ff9b::808:808]/v1',
  ])('%s is left to the lookup or allowed', (url) => {
    expect(policy().refusedHost(hostOf(url))).toBeUndefined();
  });
});

/** A resolver that answers from a table; each name's answers may change from one call to the next. */
function fakeDns(answers: Record<string, string[][]>): Resolve & { calls: string[] } {
  const calls: string[] = [];
  const resolve = ((hostname, _options, callback) => {
    calls.push(hostname);
    const queue = answers[hostname];
    if (!queue) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
    const list = queue.length > 1 ? queue.shift()! : queue[0];
    callback(null, list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  }) as Resolve & { calls: string[] };
  resolve.calls = calls;
  return resolve;
}

function lookup(p: UpstreamAddressPolicy, hostname: string, options: { all?: boolean; family?: number } = {}): Promise<string | LookupAddress[]> {
  return new Promise((resolve, reject) => p.lookup(hostname, options, (err, address) => (err ? reject(err) : resolve(address))));
}

describe('lookup (at connect time, on every address a name resolves to)', () => {
  it('a name that resolves to a private address is allowed by default', async () => {
    const p = policy({ resolve: fakeDns({ 'vllm.internal': [['10.0.3.7']], 'vllm6.internal': [['fd00:1::7']] }) });
    await expect(lookup(p, 'vllm.internal')).resolves.toBe('10.0.3.7');
    await expect(lookup(p, 'vllm6.internal', { all: true })).resolves.toEqual([{ address: 'fd00:1::7', family: 6 }]);
  });

  it('a name that resolves to a loopback or metadata address is refused, naming the address and UPSTREAM_ALLOW_CIDRS', async () => {
    const p = policy({ resolve: fakeDns({ 'evil.example': [['169.254.169.254']], 'loop.example': [['127.0.0.1']] }) });
    const err = await lookup(p, 'evil.example').catch((e) => e);
    expect(err).toBeInstanceOf(RefusedAddressError);
    expect(err.code).toBe('EPRIVATEADDR');
    expect(err.message).toBe('encoded_base_url host evil.example resolves to 169.254.169.254, the cloud metadata address; list it in UPSTREAM_ALLOW_CIDRS to allow it.');
    await expect(lookup(p, 'loop.example')).rejects.toThrow('encoded_base_url host loop.example resolves to 127.0.0.1, a loopback address; list it in UPSTREAM_ALLOW_CIDRS to allow it.');
  });

  it('one refused address among several refuses the name (fail closed)', async () => {
    const p = policy({ resolve: fakeDns({ 'mixed.example': [['10.0.0.5', '::ffff:169.254.169.254']] }) });
    await expect(lookup(p, 'mixed.example', { all: true })).rejects.toThrow(/resolves to ::ffff:169\.254\.169\.254, which carries 169\.254\.169\.254, the cloud metadata address/);
  });

  it('DNS rebinding: each connect decides on the addresses of that lookup', async () => {
    const dns = fakeDns({ 'rebind.example': [['10.0.0.5'], ['127.0.0.1'], ['10.0.0.5']] });
    const p = policy({ resolve: dns });
    await expect(lookup(p, 'rebind.example')).resolves.toBe('10.0.0.5');
    await expect(lookup(p, 'rebind.example')).rejects.toBeInstanceOf(RefusedAddressError);
    await expect(lookup(p, 'rebind.example')).resolves.toBe('10.0.0.5');
    expect(dns.calls).toEqual(['rebind.example', 'rebind.example', 'rebind.example']);
  });

  it('a deny-list refusal of a name does not say what it resolved to', async () => {
    const p = policy({ deny: '10.0.0.0/8', resolve: fakeDns({ 'db.internal': [['10.9.9.9']] }) });
    const err = await lookup(p, 'db.internal').catch((e) => e);
    expect(err.message).toBe('encoded_base_url host db.internal resolves to an address UPSTREAM_DENY_CIDRS refuses.');
    expect((err.refusal as AddressRefusal).address).toBe('10.9.9.9'); // for the log line
  });

  it('DNS errors pass through unchanged', async () => {
    const p = policy({ resolve: fakeDns({}) });
    await expect(lookup(p, 'nowhere.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('the real resolver is used by default (an IP literal resolves to itself)', async () => {
    await expect(lookup(policy(), '10.1.2.3')).resolves.toBe('10.1.2.3');
    await expect(lookup(policy(), '127.0.0.1')).rejects.toBeInstanceOf(RefusedAddressError);
  });

  describe('localhost names (never looked up: RFC 6761)', () => {
    it.each(['localhost', 'LOCALHOST.', 'api.localhost'])('%s is refused by default', async (name) => {
      const dns = fakeDns({});
      const err = await lookup(policy({ resolve: dns }), name, { all: true }).catch((e) => e);
      expect(err).toBeInstanceOf(RefusedAddressError);
      expect(err.message).toBe(`encoded_base_url host ${name} resolves to 127.0.0.1, a loopback address; list it in UPSTREAM_ALLOW_CIDRS to allow it.`);
      expect(dns.calls).toEqual([]);
    });

    it('connects to the loopback addresses the allow list opens, and only to those', async () => {
      await expect(lookup(policy({ allow: '127.0.0.1/32' }), 'localhost', { all: true })).resolves.toEqual([{ address: '127.0.0.1', family: 4 }]);
      await expect(lookup(policy({ allow: '::1' }), 'localhost')).resolves.toBe('::1');
      await expect(lookup(policy({ allow: '127.0.0.1/32' }), 'localhost', { family: 6 })).rejects.toThrow(/resolves to ::1, a loopback address/);
      await expect(lookup(policy({ allow: '127.0.0.0/8,::1' }), 'localhost', { all: true })).resolves.toHaveLength(2);
    });
  });
});
