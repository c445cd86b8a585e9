/**
 * A small DHCPv4 codec (RFC 2131 / 2132) that keeps every option as raw bytes. Decoding is defensive:
 * any malformed input ends in a DhcpDecodeError with an exact message, never an exception of another kind,
 * never a read past the end of the buffer, and never a misread of a sliced Buffer's offset. Its work is
 * linear in the packet's size whatever the content, and the size itself is capped (MAX_PACKET_BYTES).
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
const MAX_INSTANCE = 255;
/** The sname and file fields, which option 52 may turn into option areas (RFC 2132 §9.3). */
const SNAME = { start: 44, end: 108 } as const;
const FILE = { start: 108, end: 236 } as const;

/**
 * The largest datagram discovery decodes. RFC 2131 only promises 576-byte messages, and PXE ROMs, UEFI
 * and iPXE send requests of 300–600 bytes; a relay's option 82 adds tens of bytes. Option 57 (maximum
 * message size, up to 65535) is what a client will *accept*, not what it sends. 4096 is several times
 * anything firmware sends and more than a 1500-byte Ethernet frame can carry, while a 64 KB reassembled
 * datagram, which only a hostile sender builds, is refused before any option is read.
 */
export const MAX_PACKET_BYTES = 4096;

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

export interface DecodeLimits {
  /** Larger datagrams are refused. Discovery keeps the default; benchmarks lift it to show decode stays linear. */
  maxPacketBytes?: number;
}

const ipv4 = (b: Uint8Array, at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return Buffer.from(b.subarray(0, end < 0 ? b.length : end)).toString("latin1");
}

type Visit = (code: number, start: number, end: number) => void;

/**
 * Walks the code/length/value triples of b[from, to), calling `visit` with each instance's value span.
 * Offsets in messages are relative to `from`.
 */
function walkOptions(b: Uint8Array, from: number, to: number, where: string, visit: Visit): void {
  let i = from;
  while (i < to) {
    const code = b[i] as number;
    if (code === END) return;
    if (code === PAD) {
      i += 1;
      continue;
    }
    if (i + 1 >= to)
      throw new DhcpDecodeError(`${where}: option ${code} at offset ${i - from} has no length byte`);
    const len = b[i + 1] as number;
    if (i + 2 + len > to) {
      throw new DhcpDecodeError(
        `${where}: option ${code} at offset ${i - from} claims ${len} bytes but only ${to - i - 2} remain`,
      );
    }
    visit(code, i + 2, i + 2 + len);
    i += 2 + len;
  }
}

/**
 * Reads every option, joining the instances of each code in order (RFC 3396), in two walks over the
 * packet: the first checks it and measures each value, the second copies each instance once into its
 * value. Joining as instances arrived made a packet of many small instances quadratic, and even keeping a
 * list of instances per code costs garbage in proportion to their number. Values are copies: the packet
 * never aliases the input buffer.
 */
function readOptions(b: Uint8Array): { options: Map<number, Uint8Array>; overload: number } {
  const lengths = new Uint32Array(256);
  const seen = new Uint8Array(256);
  const order: number[] = [];
  let overloadAt = -1;
  const measure: Visit = (code, start, end) => {
    if (!seen[code]) {
      seen[code] = 1;
      order.push(code);
    }
    lengths[code] = (lengths[code] as number) + end - start;
    if (code === OPTION_OVERLOAD && overloadAt < 0 && end > start) overloadAt = start;
  };
  walkOptions(b, MIN_LENGTH, b.length, "options", measure);
  // Option overload (52), from the options field only: file (1), sname (2) or both (3) carry more
  // options, read in that order.
  const overload = overloadAt < 0 ? 0 : (b[overloadAt] as number);
  const areas: [number, number, string][] = [[MIN_LENGTH, b.length, "options"]];
  if (overload & 1) areas.push([FILE.start, FILE.end, "file field"]);
  if (overload & 2) areas.push([SNAME.start, SNAME.end, "sname field"]);
  for (const [from, to, where] of areas.slice(1)) walkOptions(b, from, to, where, measure);

  const values: Uint8Array[] = [];
  const filled = new Uint32Array(256);
  for (const code of order) values[code] = new Uint8Array(lengths[code] as number);
  const copy: Visit = (code, start, end) => {
    const value = values[code] as Uint8Array;
    let at = filled[code] as number;
    // A byte loop for small instances: a subarray per instance costs more than the copy.
    if (end - start > 32) {
      value.set(b.subarray(start, end), at);
      at += end - start;
    } else for (let j = start; j < end; j++) value[at++] = b[j] as number;
    filled[code] = at;
  };
  for (const [from, to, where] of areas) walkOptions(b, from, to, where, copy);
  return { options: new Map(order.map((code) => [code, values[code] as Uint8Array])), overload };
}

/** Refuses what is not a DHCP packet at all, before any option is read. */
function checkFraming(b: Uint8Array, view: DataView, max: number): void {
  if (b.length > max)
    throw new DhcpDecodeError(`packet is ${b.length} bytes; discovery accepts at most ${max}`);
  if (b.length < MIN_LENGTH)
    throw new DhcpDecodeError(`packet is ${b.length} bytes; a DHCP packet has at least ${MIN_LENGTH}`);
  const cookie = view.getUint32(HEADER_LENGTH);
  if (cookie !== MAGIC_COOKIE)
    throw new DhcpDecodeError(`bad magic cookie 0x${cookie.toString(16).padStart(8, "0")}`);
  const op = b[0] as number;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) throw new DhcpDecodeError(`unknown op ${op}`);
  const hlen = b[2] as number;
  if (hlen > 16) throw new DhcpDecodeError(`hardware address length ${hlen} exceeds 16`);
}

export function decode(input: Uint8Array, limits: DecodeLimits = {}): DhcpPacket {
  // A view that honours the input's own offset, however it was sliced.
  const b = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  checkFraming(b, view, limits.maxPacketBytes ?? MAX_PACKET_BYTES);
  const { options, overload } = readOptions(b);
  return {
    op: b[0] as number,
    htype: b[1] as number,
    hlen: b[2] as number,
    hops: b[3] as number,
    xid: view.getUint32(4),
    secs: view.getUint16(8),
    flags: view.getUint16(10),
    ciaddr: ipv4(b, 12),
    yiaddr: ipv4(b, 16),
    siaddr: ipv4(b, 20),
    giaddr: ipv4(b, 24),
    chaddr: Uint8Array.from(b.subarray(28, 44)),
    sname: overload & 2 ? "" : cString(b.subarray(SNAME.start, SNAME.end)),
    file: overload & 1 ? "" : cString(b.subarray(FILE.start, FILE.end)),
    options,
  };
}

export interface EncodeOptions {
  /**
   * The longest packet to produce, as a server honouring a client's option 57 would. Options that do not
   * fit the options field continue in file, then sname, when the packet's option 52 says so.
   */
  maxLength?: number;
}

function checkInteger(name: string, value: number, max: number): void {
  // -0 too: it would come back as 0.
  if (!Number.isInteger(value) || value < 0 || Object.is(value, -0) || value > max)
    throw new RangeError(`${name} ${value} is not an integer in 0..${max}`);
}

function writeIpv4(out: Uint8Array, at: number, addr: string): void {
  const parts = addr.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new RangeError(`not an IPv4 address: "${addr}"`);
  }
  out.set(parts, at);
}

const isLatin1WithoutNul = (s: string): boolean =>
  Array.from(s).every((c) => c.charCodeAt(0) >= 1 && c.charCodeAt(0) <= 0xff);

/** A NUL-terminated latin1 field that decodes back to the same string. */
function writeCString(out: Uint8Array, field: { start: number; end: number }, name: string, s: string): void {
  const room = field.end - field.start - 1;
  if (s.length > room || !isLatin1WithoutNul(s))
    throw new RangeError(`${name} must be at most ${room} latin1 characters without NUL: "${s}"`);
  out.set(Buffer.from(s, "latin1"), field.start);
}

/** One option area (the options field, file or sname): instances, then END, within `capacity` bytes. */
class OptionArea {
  readonly bytes: number[] = [];
  readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Room for one more instance's value, keeping a byte for END; -1 when not even an empty instance fits. */
  room(): number {
    return Math.min(MAX_INSTANCE, this.capacity - this.bytes.length - 1 - 2);
  }

  put(code: number, value: Uint8Array): void {
    this.bytes.push(code, value.length);
    for (const x of value) this.bytes.push(x);
  }
}

function overloadOf(p: DhcpPacket): number {
  const v = p.options.get(OPTION_OVERLOAD);
  if (!v) return 0;
  if (v.length !== 1 || (v[0] as number) < 1 || (v[0] as number) > 3)
    throw new RangeError(`option 52 (overload) must be one byte 1, 2 or 3, not [${v.join(", ")}]`);
  return v[0] as number;
}

/**
 * Lays options out over the areas in RFC 3396 order (options field, file, sname), splitting values into
 * instances of at most 255 bytes. Option 52 goes first: the decoder needs it before it reads file or sname.
 */
function layOut(p: DhcpPacket, areas: OptionArea[]): void {
  const codes = [...p.options.keys()].sort(
    (a, b) => Number(b === OPTION_OVERLOAD) - Number(a === OPTION_OVERLOAD),
  );
  let current = 0;
  for (const code of codes) {
    checkInteger("option code", code, 254);
    if (code === PAD) throw new RangeError("option code 0 is the pad byte");
    const value = p.options.get(code) as Uint8Array;
    let at = 0;
    do {
      while (current < areas.length && (areas[current] as OptionArea).room() < Math.min(1, value.length - at))
        current += 1;
      const area = areas[current];
      if (code === OPTION_OVERLOAD && current !== 0)
        throw new RangeError("option 52 (overload) does not fit in the options field");
      if (!area)
        throw new RangeError(`options do not fit in ${areas.map((a) => a.capacity).join(" + ")} bytes`);
      const chunk = value.subarray(at, at + area.room());
      area.put(code, chunk);
      at += chunk.length;
    } while (at < value.length);
  }
}

/** Encodes a packet (tests and fuzzing build packets with it; discovery itself never sends). */
export function encode(p: DhcpPacket, opts: EncodeOptions = {}): Uint8Array {
  const overload = overloadOf(p);
  const maxLength = opts.maxLength ?? Infinity;
  if (maxLength < MIN_LENGTH + 1) throw new RangeError(`maxLength ${maxLength} leaves no room for options`);
  const main = new OptionArea(maxLength - MIN_LENGTH);
  const file = new OptionArea(FILE.end - FILE.start);
  const sname = new OptionArea(SNAME.end - SNAME.start);
  layOut(p, [main, ...(overload & 1 ? [file] : []), ...(overload & 2 ? [sname] : [])]);
  main.bytes.push(END);
  const out = new Uint8Array(MIN_LENGTH + main.bytes.length);
  const view = new DataView(out.buffer);
  for (const [name, value] of [
    ["op", p.op],
    ["htype", p.htype],
    ["hlen", p.hlen],
    ["hops", p.hops],
  ] as const)
    checkInteger(name, value, 0xff);
  checkInteger("xid", p.xid, 0xffffffff);
  checkInteger("secs", p.secs, 0xffff);
  checkInteger("flags", p.flags, 0xffff);
  if (p.chaddr.length > 16) throw new RangeError(`chaddr has ${p.chaddr.length} bytes; the field has 16`);
  out.set([p.op, p.htype, p.hlen, p.hops]);
  view.setUint32(4, p.xid);
  view.setUint16(8, p.secs);
  view.setUint16(10, p.flags);
  writeIpv4(out, 12, p.ciaddr);
  writeIpv4(out, 16, p.yiaddr);
  writeIpv4(out, 20, p.siaddr);
  writeIpv4(out, 24, p.giaddr);
  out.set(p.chaddr, 28);
  if (overload & 2) {
    if (p.sname) throw new RangeError("sname carries options (option 52) and cannot also hold a name");
    out.set([...sname.bytes, END], SNAME.start);
  } else writeCString(out, SNAME, "sname", p.sname);
  if (overload & 1) {
    if (p.file) throw new RangeError("file carries options (option 52) and cannot also hold a name");
    out.set([...file.bytes, END], FILE.start);
  } else writeCString(out, FILE, "file", p.file);
  view.setUint32(HEADER_LENGTH, MAGIC_COOKIE);
  out.set(main.bytes, MIN_LENGTH);
  return out;
}
