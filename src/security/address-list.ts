import { BlockList, isIP } from 'node:net';

/** One entry of an address list: an IPv4 or IPv6 address, alone or with a prefix length (CIDR). */
export interface AddressRange {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** This host only: 127.0.0.0/8 and ::1. */
export const LOOPBACK: readonly AddressRange[] = Object.freeze([
  { address: '127.0.0.0', prefix: 8, family: 'ipv4' },
  { address: '::1', prefix: 128, family: 'ipv6' },
]);

/** Parses `10.0.0.0/8`, `192.0.2.7`, `::1` or `fd00::/8`; undefined when it is none of these. */
function parseAddressRange(entry: string): AddressRange | undefined {
  const [address = '', prefixText, ...rest] = entry.trim().split('/');
  if (rest.length > 0) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const bits = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * Parses a comma-separated list of addresses and CIDR ranges. Returns the entries, or the first entry
 * that is not one.
 */
export function parseAddressList(value: string): { ranges: AddressRange[] } | { invalid: string } {
  const ranges: AddressRange[] = [];
  for (const entry of value.split(',')) {
    const range = parseAddressRange(entry);
    if (!range) return { invalid: entry.trim() };
    ranges.push(range);
  }
  return { ranges };
}

/**
 * A test of whether an address falls in any of the ranges. IPv4 addresses seen as IPv4-mapped IPv6
 * (`::ffff:127.0.0.1`, on a dual-stack socket) match IPv4 ranges; anything that is not an address
 * (undefined, a destroyed socket's) matches nothing.
 */
export function addressMatcher(ranges: readonly AddressRange[]): (address: string | undefined) => boolean {
  const list = new BlockList();
  for (const { address, prefix, family } of ranges) list.addSubnet(address, prefix, family);
  return (address) => {
    if (!address) return false;
    // A link-local address may carry its interface (fe80::1%eth0).
    const bare = address.split('%')[0]!;
    const version = isIP(bare);
    return version !== 0 && list.check(bare, version === 4 ? 'ipv4' : 'ipv6');
  };
}
