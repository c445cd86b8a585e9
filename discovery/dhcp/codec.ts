/**
 * A small DHCPv4 codec (RFC 2131 / 2132) that keeps every option as raw bytes. Decoding is defensive:
 * any malformed input ends in a DhcpDecodeError with an exact message, never an exception of another kind,
 * never a read past the end of the buffer, and never a misread of a sliced Buffer's offset.
 * Typed views of individual options live in options.ts.
 */
export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const MAGIC_COOKIE = 0x63825363;
const HEADER_LENGTH = 236;
const MIN_LENGTH = HEADER_LENGTH + 4;
const PAD = 0;
const END = 255;
const OPTION_OVERLOAD = 52;

export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The client hardware address field, all 16 bytes. */
  chaddr: Uint8Array;
  sname: string;
  file: string;
  /** Option code → concatenated value (RFC 3396: repeated codes are joined in order). */
  options: Map<number, Uint8Array>;
}

export class DhcpDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DhcpDecodeError";
  }
}

const ipv4 = (b: Uint8Array, at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return Buffer.from(b.subarray(0, end < 0 ? b.length : end)).toString("latin1");
}

/** Reads code/length/value triples from `area` into `into`, joining repeats (RFC 3396). */
function readOptions(area: Uint8Array, where: string, into: Map<number, Uint8Array>): void {
  let i = 0;
  while (i < area.length) {
    const code = area[i] as number;
    if (code === END) return;
    if (code === PAD) {
      i += 1;
      continue;
    }
    if (i + 1 >= area.length)
      throw new DhcpDecodeError(`${where}: option ${code} at offset ${i} has no length byte`);
    const len = area[i + 1] as number;
    if (i + 2 + len > area.length) {
      throw new DhcpDecodeError(
        `${where}: option ${code} at offset ${i} claims ${len} bytes but only ${area.length - i - 2} remain`,
      );
    }
    const value = area.subarray(i + 2, i + 2 + len);
    const previous = into.get(code);
    into.set(code, previous ? Uint8Array.from([...previous, ...value]) : Uint8Array.from(value));
    i += 2 + len;
  }
}

export function decode(input: Uint8Array): DhcpPacket {
  // A view that honours the input's own offset, however it was sliced.
  const b = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (b.length < MIN_LENGTH)
    throw new DhcpDecodeError(`packet is ${b.length} bytes; a DHCP packet has at least ${MIN_LENGTH}`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const cookie = view.getUint32(HEADER_LENGTH);
  if (cookie !== MAGIC_COOKIE)
    throw new DhcpDecodeError(`bad magic cookie 0x${cookie.toString(16).padStart(8, "0")}`);
  const op = b[0] as number;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) throw new DhcpDecodeError(`unknown op ${op}`);
  const hlen = b[2] as number;
  if (hlen > 16) throw new DhcpDecodeError(`hardware address length ${hlen} exceeds 16`);
  const options = new Map<number, Uint8Array>();
  readOptions(b.subarray(MIN_LENGTH), "options", options);
  const overload = options.get(OPTION_OVERLOAD)?.[0] ?? 0;
  // Option overload (52): file (1), sname (2) or both (3) carry more options, in that order.
  if (overload & 1) readOptions(b.subarray(108, 236), "file field", options);
  if (overload & 2) readOptions(b.subarray(44, 108), "sname field", options);
  return {
    op,
    htype: b[1] as number,
    hlen,
    hops: b[3] as number,
    xid: view.getUint32(4),
    secs: view.getUint16(8),
    flags: view.getUint16(10),
    ciaddr: ipv4(b, 12),
    yiaddr: ipv4(b, 16),
    siaddr: ipv4(b, 20),
    giaddr: ipv4(b, 24),
    chaddr: Uint8Array.from(b.subarray(28, 44)),
    sname: overload & 2 ? "" : cString(b.subarray(44, 108)),
    file: overload & 1 ? "" : cString(b.subarray(108, 236)),
    options,
  };
}

function writeIpv4(out: Uint8Array, at: number, addr: string): void {
  const parts = addr.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new RangeError(`not an IPv4 address: "${addr}"`);
  }
  out.set(parts, at);
}

/** Encodes a packet (tests and fuzzing build packets with it; discovery itself never sends). */
export function encode(p: DhcpPacket): Uint8Array {
  const opts: number[] = [];
  for (const [code, value] of p.options) {
    // Values over 255 bytes are split into repeated options (RFC 3396).
    for (let at = 0; at < value.length || at === 0; at += 255) {
      const chunk = value.subarray(at, at + 255);
      opts.push(code, chunk.length, ...chunk);
      if (value.length === 0) break;
    }
  }
  opts.push(END);
  const out = new Uint8Array(MIN_LENGTH + opts.length);
  const view = new DataView(out.buffer);
  out[0] = p.op;
  out[1] = p.htype;
  out[2] = p.hlen;
  out[3] = p.hops;
  view.setUint32(4, p.xid);
  view.setUint16(8, p.secs);
  view.setUint16(10, p.flags);
  writeIpv4(out, 12, p.ciaddr);
  writeIpv4(out, 16, p.yiaddr);
  writeIpv4(out, 20, p.siaddr);
  writeIpv4(out, 24, p.giaddr);
  out.set(p.chaddr.subarray(0, 16), 28);
  out.set(Buffer.from(p.sname, "latin1").subarray(0, 63), 44);
  out.set(Buffer.from(p.file, "latin1").subarray(0, 127), 108);
  view.setUint32(HEADER_LENGTH, MAGIC_COOKIE);
  out.set(opts, MIN_LENGTH);
  return out;
}
