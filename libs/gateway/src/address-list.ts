import { BlockList, isIP } from 'node:net';

/** `10.0.0.0/8, fd00::/8, 127.0.0.1` → a BlockList, and the entries that are neither an IP address nor a CIDR range. */
export function parseAddressList(spec: string | undefined): { list: BlockList; invalid: string[] } {
  const list = new BlockList();
  const invalid: string[] = [];
  for (const entry of (spec ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const [address, prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? undefined : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (family === 0 || address.includes('%') || rest.length > 0 || (bits !== undefined && !(bits <= (family === 4 ? 32 : 128)))) {
      invalid.push(entry);
      continue;
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, bits, type);
  }
  return { list, invalid };
}

/** Whether a socket's peer address is in the list (an IPv4 peer of a dual-stack socket arrives as ::ffff:a.b.c.d). */
export function addressListHas(list: BlockList, peer: string | undefined): boolean {
  if (!peer) return false;
  const address = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(peer)?.[1] ?? peer;
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
