/**
 * IPv4 arithmetic for discovery: dotted quads as unsigned 32-bit integers, CIDR blocks and address ranges.
 * Parsing is strict (four decimal octets 0–255, no leading "+", no spaces) because the input comes from
 * policy files and, for source checks, from the network.
 */

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** A CIDR block as integers: `network` has its host bits cleared. */
export interface Cidr {
  network: number;
  prefix: number;
  mask: number;
}

/** The address as an unsigned 32-bit integer, or undefined when it is not a dotted-quad IPv4 address. */
export function parseIpv4(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((n, part) => n * 256 + Number(part), 0);
}

export function isIpv4(ip: string): boolean {
  return parseIpv4(ip) !== undefined;
}

export function ipToInt(ip: string): number {
  const n = parseIpv4(ip);
  if (n === undefined) throw new Error(`"${ip}" is not an IPv4 address`);
  return n;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function maskOf(prefix: number): number {
  // A shift by 32 is a shift by 0 in JavaScript, so /0 needs its own case.
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "10.0.0.0/24" → the block; a bare address is its own /32. Undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const [address, bits, extra] = text.split("/");
  if (extra !== undefined || address === undefined) return undefined;
  const ip = parseIpv4(address);
  if (ip === undefined) return undefined;
  if (bits !== undefined && !/^(3[0-2]|[12]?\d)$/.test(bits)) return undefined;
  const prefix = bits === undefined ? 32 : Number(bits);
  const mask = maskOf(prefix);
  return { network: (ip & mask) >>> 0, prefix, mask };
}

export function cidr(text: string): Cidr {
  const block = parseCidr(text);
  if (!block) throw new Error(`"${text}" is not an IPv4 CIDR block`);
  return block;
}

export function contains(block: Cidr, ip: number): boolean {
  return (ip & block.mask) >>> 0 === block.network;
}

/** Whether `ip` lies in `subnet`; false when either is malformed. */
export function inSubnet(ip: string, subnet: string): boolean {
  const n = parseIpv4(ip);
  const block = parseCidr(subnet);
  return n !== undefined && block !== undefined && contains(block, n);
}

/** "10.77.0.100-10.77.0.199" → its ends as integers, or undefined when malformed or reversed. */
export function parseRange(text: string): { start: number; end: number } | undefined {
  const [from, to, extra] = text.split("-");
  if (extra !== undefined || from === undefined || to === undefined) return undefined;
  const start = parseIpv4(from);
  const end = parseIpv4(to);
  if (start === undefined || end === undefined || end < start) return undefined;
  return { start, end };
}

/** The address part of an IPv4 socket address such as "10.0.0.1:67" (anything else is returned as is). */
export function hostOf(socketAddress: string): string {
  return /^([^:]+):\d+$/.exec(socketAddress)?.[1] ?? socketAddress;
}
