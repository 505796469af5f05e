import { lookup as dnsLookup, LookupAddress, LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { formatIp, ipValue, parseAddressList } from '@app/settings';

/**
 * The SSRF guard: which addresses a client-chosen upstream (encoded_base_url)
 * may reach. It decides per address, on every address a name resolves to,
 * and fails closed; it owns no policy for operator-configured upstreams
 * (LITELLM_URL, providers, DEFAULT_UPSTREAM_URL), which are trusted.
 *
 * Decisions:
 * - The default fits an internal microservice, where the model servers are
 *   in the VPC: private and shared ranges are allowed (10/8, 172.16/12,
 *   192.168/16, 100.64/10 CGNAT, fc00::/7 unique-local), as are public
 *   addresses. What no model server is, and what an SSRF is after, is refused:
 *   - IPv4: 0/8 (unspecified), 127/8 (loopback), 169.254/16 (link-local,
 *     where AWS, GCP, Azure, OCI, OpenStack and others serve instance
 *     metadata at 169.254.169.254, ECS task credentials at 169.254.170.2,
 *     Tencent at 169.254.0.23), 100.100.100.200 (Alibaba Cloud metadata, inside
 *     the allowed 100.64/10), 168.63.129.16 (Azure WireServer, which hands
 *     out VM configuration from an address that looks public), 192.0.0/24
 *     (IETF protocol assignments; 192.0.0.192 is Oracle Cloud metadata),
 *     192.0.2/24, 198.51.100/24, 203.0.113/24 (documentation), 192.88.99/24
 *     (6to4 relays), 198.18/15 (benchmarking), 224/4 (multicast), 240/4
 *     (reserved, broadcast).
 *   - IPv6: :: and ::1, fe80::/10 (link-local), fec0::/10 (site-local,
 *     deprecated but still routed inward), ff00::/8 (multicast), 100::/64
 *     (discard), 2001::/23 (IETF protocol block, Teredo included),
 *     2001:db8::/32 and 3fff::/20 (documentation), fd00:ec2::254 (AWS
 *     metadata over IPv6, inside the allowed fc00::/7).
 * - IPv6 forms that embed an IPv4 address are judged by that address too, as
 *   the packet ends up there: IPv4-mapped ::ffff:0:0/96, IPv4-translated
 *   ::ffff:0:0:0/96, IPv4-compatible ::/96 (also written in hex, ::7f00:1;
 *   :: and ::1 are themselves), NAT64 well-known 64:ff9b::/96 (last 32 bits),
 *   6to4 2002::/16 (bits 16–47). Such an address passes only when both the
 *   IPv6 address and the IPv4 address it carries pass, so an operator's
 *   `10.0.0.0/8` deny also catches `::ffff:a00:5`, and a deny of
 *   `64:ff9b::/96` turns NAT64 off.
 * - NAT64 local-use 64:ff9b:1::/48 is refused whole: the operator picks the
 *   prefix length (/48 to /96, RFC 6052), so where the IPv4 address sits
 *   cannot be known. Teredo (2001::/32) too: where its packets go depends on
 *   a relay, not on anything checkable here.
 * - Operators tighten and widen with UPSTREAM_DENY_CIDRS and
 *   UPSTREAM_ALLOW_CIDRS. An entry of either list beats the built-in table;
 *   between the lists the longest matching prefix wins, as in a routing
 *   table, and deny wins a tie. So `10.0.0.0/8` denied with `10.1.2.3/32`
 *   allowed opens that one server, `127.0.0.0/8` allowed with `127.0.0.1/32`
 *   denied keeps that one closed, and the same range in both is refused. The
 *   lists are validated at start-up; a range with bits set past its prefix
 *   (`10.1.2.3/8`) is refused there, as in an allow list that typo opens a /8.
 *   The old public-only default is `UPSTREAM_DENY_CIDRS=10.0.0.0/8,
 *   172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7`: no third setting.
 * - ALLOW_PRIVATE_UPSTREAMS=true (kept for compatibility) drops the built-in
 *   table: every address is allowed but what UPSTREAM_DENY_CIDRS lists. With
 *   no deny list the guard is off altogether, as before (`active` is false).
 * - Names: `localhost` and `*.localhost` are never looked up (RFC 6761 says
 *   they are loopback whatever DNS says): they stand for 127.0.0.1 and ::1,
 *   and connect to whichever of the two the policy allows (so
 *   `UPSTREAM_ALLOW_CIDRS=127.0.0.1/32` opens http://localhost:8000 too).
 *   Any other name is decided at connect time, in the agents' lookup, on
 *   every address it resolves to, and is refused when one of them is: the
 *   addresses checked are the ones connected to, so a name that rebinds
 *   inward between two connections is caught too. IP literals never reach a
 *   lookup, so `refusedHost` checks them before the request. IPv4 shorthands
 *   (127.1, 0x7f.1, 2130706433) and bracketed IPv6 reach the guard already
 *   normalised by the WHATWG URL parser (127.0.0.1, ::7f00:1); the guard
 *   still reads any form node:net's isIP accepts.
 * - The refusal (403 forbidden_upstream) names the address and why when the
 *   built-in table refused it, and the setting that opens it. A deny-list
 *   refusal of a name does not say what the name resolved to: an operator
 *   who hides a private range should not get a DNS oracle for it.
 */

interface Rule {
  family: 4 | 6;
  prefix: number;
  value: bigint;
}

interface BuiltInRule extends Rule {
  reason: string;
}

const BUILT_IN_REFUSED: ReadonlyArray<BuiltInRule> = (
  [
    ['0.0.0.0/8', 'an unspecified ("this network") address'],
    ['127.0.0.0/8', 'a loopback address'],
    ['169.254.0.0/16', 'a link-local address (where cloud metadata services live)'],
    ['169.254.169.254', 'the cloud metadata address'],
    ['100.100.100.200', 'a cloud metadata address (Alibaba Cloud)'],
    ['168.63.129.16', 'a cloud platform address (Azure WireServer)'],
    ['192.0.0.0/24', 'an IETF protocol address'],
    ['192.0.2.0/24', 'a documentation address'],
    ['198.51.100.0/24', 'a documentation address'],
    ['203.0.113.0/24', 'a documentation address'],
    ['192.88.99.0/24', 'a 6to4 relay address'],
    ['198.18.0.0/15', 'a benchmarking address'],
    ['224.0.0.0/4', 'a multicast address'],
    ['240.0.0.0/4', 'a reserved address'],
    ['255.255.255.255', 'the broadcast address'],
    ['::', 'the unspecified address'],
    ['::1', 'a loopback address'],
    ['fe80::/10', 'a link-local address'],
    ['fec0::/10', 'a site-local address'],
    ['ff00::/8', 'a multicast address'],
    ['100::/64', 'a discard address'],
    ['2001::/23', 'an IETF protocol address'],
    ['2001::/32', 'a Teredo address (where it leads depends on a relay)'],
    ['2001:db8::/32', 'a documentation address'],
    ['3fff::/20', 'a documentation address'],
    ['64:ff9b:1::/48', 'a local-use NAT64 address (the IPv4 address it carries cannot be located)'],
    ['fd00:ec2::254', 'a cloud metadata address (AWS, IPv6)'],
  ] as const
).map(([text, reason]) => ({ ...parseAddressList(text).ranges[0], reason }));

export type AddressVerdict =
  | { allowed: true }
  | {
      allowed: false;
      /** The address refused: for an IPv6 form that embeds an IPv4 address, the IPv4 address when that is what was refused. */
      address: string;
      /** What the address is ("a loopback address"), when the built-in table refused it. */
      reason?: string;
      /** The setting that decided: the one to change. */
      setting: 'UPSTREAM_ALLOW_CIDRS' | 'UPSTREAM_DENY_CIDRS';
      /** The IPv6 address that carries `address`. */
      embeddedIn?: string;
    };
export type AddressRefusal = Extract<AddressVerdict, { allowed: false }>;

export interface UpstreamAddressPolicyOptions {
  /** UPSTREAM_ALLOW_CIDRS: IPs and CIDRs allowed although the built-in table refuses them. */
  allow?: string;
  /** UPSTREAM_DENY_CIDRS: IPs and CIDRs refused although the built-in table allows them. */
  deny?: string;
  /** False (ALLOW_PRIVATE_UPSTREAMS=true): no built-in refusals, only the deny list. */
  builtInRefusals?: boolean;
  /** Where names are resolved (default dns.lookup, as Node's own agents do): a service-discovery resolver, or a test's. */
  resolve?: Resolve;
}

/** dns.lookup with `all: true`. */
export type Resolve = (hostname: string, options: LookupOptions & { all: true }, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const ALLOWED: AddressVerdict = Object.freeze({ allowed: true });
const LOOPBACK: ReadonlyArray<LookupAddress> = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * The policy, built once from the settings. `lookup` goes into the agents of
 * client-chosen upstreams; `refusedHost` checks a URL's hostname before the
 * request, for what never reaches a lookup.
 */
export class UpstreamAddressPolicy {
  /** False when nothing can be refused (ALLOW_PRIVATE_UPSTREAMS=true, no deny list): upstreams need no guard. */
  readonly active: boolean;
  private readonly allow: Rule[];
  private readonly deny: Rule[];
  private readonly builtIn: boolean;
  private readonly resolve: Resolve;

  constructor(options: UpstreamAddressPolicyOptions = {}) {
    this.allow = rulesOf('UPSTREAM_ALLOW_CIDRS', options.allow);
    this.deny = rulesOf('UPSTREAM_DENY_CIDRS', options.deny);
    this.builtIn = options.builtInRefusals ?? true;
    this.resolve = options.resolve ?? (dnsLookup as Resolve);
    this.active = this.builtIn || this.deny.length > 0;
  }

  static fromSettings(settings: { ALLOW_PRIVATE_UPSTREAMS: boolean; UPSTREAM_ALLOW_CIDRS?: string; UPSTREAM_DENY_CIDRS?: string }): UpstreamAddressPolicy {
    return new UpstreamAddressPolicy({ allow: settings.UPSTREAM_ALLOW_CIDRS, deny: settings.UPSTREAM_DENY_CIDRS, builtInRefusals: !settings.ALLOW_PRIVATE_UPSTREAMS });
  }

  /** Whether a client-chosen upstream may connect to this IP address (anything that is not one is refused). */
  judge(address: string): AddressVerdict {
    const ip = address.replace(/%.*$/, ''); // DNS answers for link-local addresses may carry a zone (fe80::1%eth0).
    const family = isIP(ip);
    if (family === 0) return { allowed: false, address, reason: 'not an IP address', setting: 'UPSTREAM_ALLOW_CIDRS' };
    const value = ipValue(ip)!;
    if (family === 4) return this.judgeOne(4, value, ip);
    const own = this.judgeOne(6, value, ip);
    const embedded = embeddedIpv4(value);
    if (!own.allowed || embedded === undefined) return own;
    const carried = this.judgeOne(4, embedded, formatIp(embedded, 4));
    return carried.allowed ? carried : { ...carried, embeddedIn: ip };
  }

  /**
   * A URL hostname that is an IP literal (Node connects to those without
   * calling the agent's lookup), judged before the request; undefined when
   * it is allowed or is a name, which the lookup decides.
   */
  refusedHost(hostname: string): AddressRefusal | undefined {
    const host = hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
    if (!isIP(host.replace(/%.*$/, ''))) return undefined;
    const verdict = this.judge(host);
    return verdict.allowed ? undefined : verdict;
  }

  /**
   * A `lookup` for http.Agent: resolves, then refuses the name when one of
   * its addresses is refused, so the addresses connected to are the ones
   * checked (DNS rebinding included). localhost names resolve without DNS.
   */
  readonly lookup = (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    const name = hostname.replace(/\.$/, '').toLowerCase();
    if (name === 'localhost' || name.endsWith('.localhost')) {
      const family = familyOf(options.family);
      const candidates = LOOPBACK.filter((a) => family === 0 || a.family === family);
      const verdicts = candidates.map((a) => this.judge(a.address));
      const open = candidates.filter((_, i) => verdicts[i].allowed);
      if (open.length === 0) return callback(new RefusedAddressError(hostname, verdicts[0] as AddressRefusal, false), '', 0);
      return options.all ? callback(null, open) : callback(null, open[0].address, open[0].family);
    }
    this.resolve(hostname, { ...options, all: true }, (err, list) => {
      if (err) return callback(err, '', 0);
      if (list.length === 0) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      for (const a of list) {
        const verdict = this.judge(a.address);
        if (!verdict.allowed) return callback(new RefusedAddressError(hostname, verdict, false), '', 0);
      }
      return options.all ? callback(null, list) : callback(null, list[0].address, list[0].family);
    });
  };

  private judgeOne(family: 4 | 6, value: bigint, text: string): AddressVerdict {
    const allow = longestMatch(this.allow, family, value);
    const deny = longestMatch(this.deny, family, value);
    if (deny && (!allow || deny.prefix >= allow.prefix)) return { allowed: false, address: text, setting: 'UPSTREAM_DENY_CIDRS' };
    if (allow || !this.builtIn) return ALLOWED;
    const refused = longestMatch(BUILT_IN_REFUSED, family, value);
    return refused ? { allowed: false, address: text, reason: refused.reason, setting: 'UPSTREAM_ALLOW_CIDRS' } : ALLOWED;
  }
}

/** A refused upstream address; HttpUpstreamClient turns it into 403 forbidden_upstream with this message. */
export class RefusedAddressError extends Error {
  readonly code = 'EPRIVATEADDR';

  constructor(
    readonly host: string,
    readonly refusal: AddressRefusal,
    /** The URL's host is the address itself (no name was resolved). */
    literal: boolean,
  ) {
    super(refusalMessage(host, refusal, literal));
    this.name = 'RefusedAddressError';
  }
}

/** What the client reads: what the address is, and which setting would change the answer. */
export function refusalMessage(host: string, refusal: AddressRefusal, literal: boolean): string {
  const shown = refusal.embeddedIn ?? refusal.address;
  if (refusal.setting === 'UPSTREAM_DENY_CIDRS') {
    // For a name, not which address: see the file comment.
    return literal ? `encoded_base_url points at ${shown}, an address UPSTREAM_DENY_CIDRS refuses.` : `encoded_base_url host ${host} resolves to an address UPSTREAM_DENY_CIDRS refuses.`;
  }
  const where = literal ? `encoded_base_url points at ${shown}` : `encoded_base_url host ${host} resolves to ${shown}`;
  const carried = refusal.embeddedIn ? `, which carries ${refusal.address}` : '';
  return `${where}${carried}, ${refusal.reason}; list it in UPSTREAM_ALLOW_CIDRS to allow it.`;
}

/** The settings were validated at start-up; this catches a policy built in code from a bad list, which must not be half-read. */
function rulesOf(setting: string, spec: string | undefined): Rule[] {
  const { ranges, invalid } = parseAddressList(spec, { exactRanges: true });
  if (invalid.length > 0) throw new Error(`${setting}: not IP addresses or CIDR ranges: ${invalid.join(', ')}`);
  return ranges;
}

function longestMatch<T extends Rule>(rules: ReadonlyArray<T>, family: 4 | 6, value: bigint): T | undefined {
  let best: T | undefined;
  for (const rule of rules) {
    if (rule.family !== family || (best && best.prefix >= rule.prefix)) continue;
    const shift = BigInt((family === 4 ? 32 : 128) - rule.prefix);
    if (value >> shift === rule.value >> shift) best = rule;
  }
  return best;
}

/** The IPv4 address (32-bit) an IPv6 address (128-bit) embeds and reaches, if it is one of the forms that do. */
function embeddedIpv4(v: bigint): bigint | undefined {
  const low = v & 0xffffffffn;
  const top = (bits: number) => v >> BigInt(128 - bits);
  if (top(96) === 0xffffn) return low; // ::ffff:a.b.c.d
  if (top(96) === 0n) return v > 1n ? low : undefined; // ::a.b.c.d; :: and ::1 are themselves
  if (top(96) === 0xffff0000n) return low; // ::ffff:0:a.b.c.d
  if (top(96) === 0x64ff9b0000000000000000n) return low; // 64:ff9b::a.b.c.d
  if (top(16) === 0x2002n) return (v >> 80n) & 0xffffffffn; // 2002:aabb:ccdd::
  return undefined;
}

function familyOf(family: LookupOptions['family']): 0 | 4 | 6 {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return 0;
}
