import { lookup as dnsLookup, LookupAddress, LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * The SSRF guard: which addresses a client-chosen upstream (encoded_base_url)
 * may not reach unless ALLOW_PRIVATE_UPSTREAMS is on. It decides per address
 * and fails closed; it owns no policy for operator-configured upstreams
 * (LITELLM_URL, providers, DEFAULT_UPSTREAM_URL), which are trusted.
 *
 * Decisions:
 * - IPv4 refused: 0/8, 10/8, 100.64/10 (CGNAT), 127/8, 169.254/16 (link-local,
 *   cloud metadata), 172.16/12, 192.0.0/24, 192.0.2/24, 198.51.100/24 and
 *   203.0.113/24 (documentation), 192.88.99/24 (6to4 relays), 192.168/16,
 *   198.18/15 (benchmarking), 224/4 (multicast), 240/4 (reserved, broadcast).
 * - IPv6 forms that embed an IPv4 address are judged by that address, as the
 *   packet ends up there: IPv4-mapped ::ffff:0:0/96, IPv4-translated
 *   ::ffff:0:0:0/96, IPv4-compatible ::/96 (also written in hex, ::7f00:1),
 *   NAT64 well-known 64:ff9b::/96 (last 32 bits), 6to4 2002::/16 (bits 16–47).
 * - NAT64 local-use 64:ff9b:1::/48 is refused whole: the operator picks the
 *   prefix length (/48 to /96, RFC 6052), so where the IPv4 address sits
 *   cannot be known, and the range only exists inside the operator's network.
 * - Teredo 2001::/32 is refused (as all of 2001::/23, the IETF protocol
 *   block): it carries an obfuscated client and a server address, and where
 *   a packet goes depends on a relay, not on anything checkable here.
 * - IPv6 refused as not global: :: and ::1, fc00::/7 (unique-local),
 *   fe80::/10 (link-local), fec0::/10 (site-local, deprecated but still
 *   routed inward), ff00::/8 (multicast), 100::/64 (discard), 2001:db8::/32
 *   and 3fff::/20 (documentation).
 * - Names: `localhost` and `*.localhost` are refused before any lookup (RFC
 *   6761 says they are loopback whatever DNS says); any other name is refused
 *   when one of its resolved addresses is, at connect time in the agents'
 *   lookup, so a name that rebinds inward is caught too. IPv4 shorthands
 *   (127.1, 0x7f.1, 2130706433) and bracketed IPv6 reach the guard already
 *   normalised by the WHATWG URL parser (127.0.0.1, ::7f00:1); the guard
 *   still reads any form node:net's isIP accepts.
 */
const blockedV4 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blockedV4.addSubnet(net, prefix, 'ipv4');

const blockedV6 = new BlockList();
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32], ['3fff::', 20],
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) blockedV6.addSubnet(net, prefix, 'ipv6');

/** True when the guard refuses this IP address (anything that is not an IP address is refused too). */
export function isPrivateAddress(address: string): boolean {
  // DNS answers for link-local addresses may carry a zone (fe80::1%eth0).
  const ip = address.replace(/%.*$/, '');
  const family = isIP(ip);
  if (family === 4) return blockedV4.check(ip, 'ipv4');
  if (family !== 6) return true;
  const embedded = embeddedIpv4(ipv6Words(ip));
  if (embedded !== undefined) return blockedV4.check(embedded, 'ipv4');
  return blockedV6.check(ip, 'ipv6');
}

/**
 * True when a URL's hostname is refused before any DNS lookup: a refused IP
 * literal (Node connects to those without calling the agent's lookup), or a
 * localhost name.
 */
export function isRefusedHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (isIP(host)) return isPrivateAddress(host);
  return host === 'localhost' || host.endsWith('.localhost');
}

/** The eight 16-bit groups of a valid IPv6 address, with a trailing dotted quad folded in. */
function ipv6Words(ip: string): number[] {
  let text = ip;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number);
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const parse = (part: string | undefined) => (part ? part.split(':').map((w) => parseInt(w, 16)) : []);
  const left = parse(head);
  const right = parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** The IPv4 address an IPv6 address embeds and reaches, if it is one of the forms that do. */
function embeddedIpv4(w: number[]): string | undefined {
  const zero = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  const quad = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  if (zero(0, 5) && (w[5] === 0xffff || w[5] === 0)) return quad(w[6], w[7]); // ::ffff:a.b.c.d, ::a.b.c.d
  if (zero(0, 4) && w[4] === 0xffff && w[5] === 0) return quad(w[6], w[7]); // ::ffff:0:a.b.c.d
  if (w[0] === 0x64 && w[1] === 0xff9b && zero(2, 6)) return quad(w[6], w[7]); // 64:ff9b::a.b.c.d
  if (w[0] === 0x2002) return quad(w[1], w[2]); // 2002:aabb:ccdd::
  return undefined;
}

export class PrivateAddressError extends Error {
  readonly code = 'EPRIVATEADDR';
  constructor(host: string) {
    super(`${host} resolves to a private or loopback address`);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.Agent that refuses private addresses after DNS
 * resolution, so a hostname that resolves (or rebinds) inward is caught at
 * connect time, not only when the URL is parsed.
 */
export function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const list = addresses as LookupAddress[];
    const bad = list.find((a) => isPrivateAddress(a.address));
    if (bad || list.length === 0) return callback(new PrivateAddressError(hostname) as unknown as NodeJS.ErrnoException, '', 0);
    if (options.all) return callback(null, list);
    return callback(null, list[0].address, list[0].family);
  });
}
