import { BlockList, isIP } from 'node:net';
import { parseAddressList } from '@app/settings';

/** An address-list setting (`10.0.0.0/8, fd00::/8, 127.0.0.1`, validated at start-up by IsAddressList) as a BlockList. */
export function addressBlockList(spec: string | undefined): BlockList {
  const list = new BlockList();
  for (const range of parseAddressList(spec).ranges) list.addSubnet(range.address, range.prefix, range.family === 4 ? 'ipv4' : 'ipv6');
  return list;
}

/** Whether a socket's peer address is in the list (an IPv4 peer of a dual-stack socket arrives as ::ffff:a.b.c.d). */
export function addressListHas(list: BlockList, peer: string | undefined): boolean {
  if (!peer) return false;
  const address = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(peer)?.[1] ?? peer;
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
