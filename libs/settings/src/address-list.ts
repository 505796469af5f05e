import { ValidateBy } from 'class-validator';
import { isIP } from 'node:net';

/** One entry of an address-list setting: a CIDR range, or one address (a /32 or /128). */
export interface AddressRange {
  /** The entry as written, trimmed. */
  text: string;
  family: 4 | 6;
  /** The network address, as written. */
  address: string;
  prefix: number;
  /** The address as a 32- or 128-bit number. */
  value: bigint;
}

export interface AddressListOptions {
  /**
   * Also refuse a range with bits set past its prefix (`10.1.2.3/8`): in an
   * allow list that typo opens a whole /8 where one address was meant.
   */
  exactRanges?: boolean;
}

/**
 * `10.0.0.0/8, fd00::/8, 127.0.0.1` → the ranges, and the entries that are
 * not one (as written, with a hint when one helps).
 */
export function parseAddressList(spec: string | undefined, options: AddressListOptions = {}): { ranges: AddressRange[]; invalid: string[] } {
  const ranges: AddressRange[] = [];
  const invalid: string[] = [];
  for (const text of (spec ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const [address, prefixText, ...rest] = text.split('/');
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (family === 0 || address.includes('%') || rest.length > 0 || !(prefix <= max)) {
      invalid.push(text);
      continue;
    }
    const value = ipValue(address)!;
    const host = max - prefix;
    if (options.exactRanges && host > 0 && (value & ((1n << BigInt(host)) - 1n)) !== 0n) {
      invalid.push(`${text} (bits set past /${prefix}: ${formatIp((value >> BigInt(host)) << BigInt(host), family as 4 | 6)}/${prefix} or ${address}/${max}?)`);
      continue;
    }
    ranges.push({ text, family: family as 4 | 6, address, prefix, value });
  }
  return { ranges, invalid };
}

/** An IP address (IPv4, or IPv6 with or without a zone or a trailing dotted quad) as a 32- or 128-bit number; undefined if it is none. */
export function ipValue(address: string): bigint | undefined {
  const ip = address.replace(/%.*$/, '');
  const family = isIP(ip);
  if (family === 4) return ip.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
  if (family !== 6) return undefined;
  let text = ip;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number);
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const words = (part: string | undefined) => (part ? part.split(':').map((w) => parseInt(w, 16)) : []);
  const left = words(head);
  const right = words(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right].reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}

/** A 32-bit number as a dotted quad, a 128-bit one as IPv6 in its shortest form (as the URL parser writes it). */
export function formatIp(value: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const full = Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
  return new URL(`http://[${full}]/`).hostname.slice(1, -1);
}

/**
 * class-validator check of an address-list setting; a bad value stops start-up
 * with the setting's name and the entries that are not addresses.
 */
export const IsAddressList = (options: AddressListOptions = {}) =>
  ValidateBy({
    name: 'isAddressList',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && parseAddressList(value, options).invalid.length === 0,
      defaultMessage: (args) =>
        `${args?.property} must be IP addresses and CIDR ranges separated by commas, such as 10.0.0.0/8,fd00::/8,127.0.0.1` +
        (typeof args?.value === 'string' ? ` (not: ${parseAddressList(args.value, options).invalid.join(', ')})` : ''),
    },
  });
