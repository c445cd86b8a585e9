/**
 * Typed views of the DHCP options discovery cares about. Each returns undefined when the option is
 * absent and throws DhcpDecodeError with an exact message when it is present but malformed.
 * Next to each view is its encoder (value → option bytes, for tests and fuzzing), which throws RangeError
 * for a value the view could not give back unchanged: for every value it accepts, the view of its bytes
 * is that value again.
 */
import { DhcpDecodeError, type DhcpPacket } from "./codec.ts";

export const OPTION = {
  hostname: 12,
  messageType: 53,
  vendorClass: 60,
  clientId: 61,
  userClass: 77,
  relayAgent: 82,
  clientArch: 93,
  clientNdi: 94,
  clientUuid: 97,
} as const;

export const MESSAGE_TYPES = [
  "",
  "DISCOVER",
  "OFFER",
  "REQUEST",
  "DECLINE",
  "ACK",
  "NAK",
  "RELEASE",
  "INFORM",
] as const;
export type MessageType = Exclude<(typeof MESSAGE_TYPES)[number], "">;

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString("latin1");
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");

/**
 * Drops trailing NULs with a scan, not /\0+$/: that regex retries from every NUL of a run that is not at
 * the end, which made a 4 KB option of NULs and one letter cost ~7 ms.
 */
function trimNuls(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0) end -= 1;
  return s.slice(0, end);
}
const text = (b: Uint8Array): string => trimNuls(latin1(b));

/** Bytes of a latin1 string the text view reads back unchanged (it drops trailing NULs). */
function textBytes(what: string, s: string): Uint8Array {
  if (s.endsWith("\0")) throw new RangeError(`${what} ends with NUL, which the decoder drops`);
  for (const c of s)
    if (c.charCodeAt(0) > 0xff) throw new RangeError(`${what} has a character outside latin1: "${c}"`);
  return Uint8Array.from(Buffer.from(s, "latin1"));
}

/** Bytes of lowercase hex, as the hex view writes it. */
function hexBytes(what: string, s: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(s)) throw new RangeError(`${what} is not lowercase hex bytes: "${s}"`);
  return Uint8Array.from(Buffer.from(s, "hex"));
}

function checkInteger(what: string, n: number, max: number): void {
  // -0 too: it would come back as 0.
  if (!Number.isInteger(n) || n < 0 || Object.is(n, -0) || n > max)
    throw new RangeError(`${what} ${n} is not an integer in 0..${max}`);
}

export function messageType(p: DhcpPacket): MessageType | undefined {
  const v = p.options.get(OPTION.messageType);
  if (!v) return undefined;
  if (v.length !== 1)
    throw new DhcpDecodeError(`option 53 (message type) has length ${v.length}, expected 1`);
  const name = MESSAGE_TYPES[v[0] as number];
  if (!name) throw new DhcpDecodeError(`option 53 (message type) has unknown value ${v[0]}`);
  return name;
}

export function encodeMessageType(type: MessageType): Uint8Array {
  const value = MESSAGE_TYPES.indexOf(type);
  if (value < 1) throw new RangeError(`unknown DHCP message type "${type}"`);
  return Uint8Array.of(value);
}

export function vendorClass(p: DhcpPacket): string | undefined {
  const v = p.options.get(OPTION.vendorClass);
  return v ? text(v) : undefined;
}

export const encodeVendorClass = (vc: string): Uint8Array => textBytes("option 60 (vendor class)", vc);

export function hostname(p: DhcpPacket): string | undefined {
  const v = p.options.get(OPTION.hostname);
  return v?.length ? text(v) : undefined;
}

export function encodeHostname(name: string): Uint8Array {
  // The view reads an empty option as no hostname; RFC 2132 §3.14 requires at least one byte anyway.
  if (!name) throw new RangeError("option 12 (hostname) must not be empty");
  return textBytes("option 12 (hostname)", name);
}

/** Option 61: the type byte and the identifier, as "type:hex". */
export function clientId(p: DhcpPacket): string | undefined {
  const v = p.options.get(OPTION.clientId);
  if (!v) return undefined;
  if (v.length < 2)
    throw new DhcpDecodeError(`option 61 (client identifier) has length ${v.length}, expected at least 2`);
  return `${v[0]}:${hex(v.subarray(1))}`;
}

/** "type:hex" (as clientId gives it) → option 61: a decimal type 0–255 and at least one byte of identifier. */
export function encodeClientId(id: string): Uint8Array {
  const m = /^(0|[1-9]\d{0,2}):(.+)$/.exec(id);
  if (!m || Number(m[1]) > 255)
    throw new RangeError(`option 61 (client identifier) "${id}" is not "type:hex" with a type 0..255`);
  const identifier = hexBytes("option 61 (client identifier)", m[2] as string);
  return Uint8Array.from([Number(m[1]), ...identifier]);
}

/**
 * Option 77. RFC 3004 defines a list of length-prefixed classes, but iPXE sends the bare string "iPXE";
 * a value that does not parse as a list is taken as one class.
 */
export function userClasses(p: DhcpPacket): string[] | undefined {
  const v = p.options.get(OPTION.userClass);
  if (!v) return undefined;
  // One string for the whole value, sliced per class: a value of many tiny classes costs no more than one.
  const all = latin1(v);
  const list: string[] = [];
  let i = 0;
  while (i < v.length) {
    const len = v[i] as number;
    if (len === 0 || i + 1 + len > v.length) return [trimNuls(all)];
    list.push(trimNuls(all.slice(i + 1, i + 1 + len)));
    i += 1 + len;
  }
  return list;
}

/** Classes → option 77 in the RFC 3004 form: each class non-empty, at most 255 latin1 characters. */
export function encodeUserClasses(classes: string[]): Uint8Array {
  const out: number[] = [];
  for (const c of classes) {
    const bytes = textBytes("option 77 (user class)", c);
    if (bytes.length === 0 || bytes.length > 255)
      throw new RangeError(`option 77 (user class) "${c}" has ${bytes.length} bytes, expected 1..255`);
    out.push(bytes.length, ...bytes);
  }
  return Uint8Array.from(out);
}

/** Option 93: the client's processor architecture types (RFC 4578, IANA registry). */
export function clientArchitectures(p: DhcpPacket): number[] | undefined {
  const v = p.options.get(OPTION.clientArch);
  if (!v) return undefined;
  if (v.length === 0 || v.length % 2)
    throw new DhcpDecodeError(
      `option 93 (client architecture) has length ${v.length}, expected a positive even number`,
    );
  const out: number[] = [];
  for (let i = 0; i < v.length; i += 2) out.push(((v[i] as number) << 8) | (v[i + 1] as number));
  return out;
}

export function encodeClientArchitectures(types: number[]): Uint8Array {
  if (types.length === 0) throw new RangeError("option 93 (client architecture) needs at least one type");
  const out = new Uint8Array(types.length * 2);
  types.forEach((t, i) => {
    checkInteger("option 93 (client architecture) type", t, 0xffff);
    out.set([t >> 8, t & 0xff], i * 2);
  });
  return out;
}

/** Option 94: network interface identifier (type 1 = UNDI) and its version. */
export function clientNdi(p: DhcpPacket): { type: number; major: number; minor: number } | undefined {
  const v = p.options.get(OPTION.clientNdi);
  if (!v) return undefined;
  if (v.length !== 3)
    throw new DhcpDecodeError(`option 94 (client network interface) has length ${v.length}, expected 3`);
  return { type: v[0] as number, major: v[1] as number, minor: v[2] as number };
}

export function encodeClientNdi(ndi: { type: number; major: number; minor: number }): Uint8Array {
  for (const [what, n] of Object.entries(ndi))
    checkInteger(`option 94 (client network interface) ${what}`, n, 0xff);
  return Uint8Array.of(ndi.type, ndi.major, ndi.minor);
}

/**
 * Option 97: the client machine identifier, type 0 followed by a 16-byte GUID. PXE firmware sends the
 * SMBIOS UUID with its first three fields little-endian (as EFI GUIDs are stored); they are swapped back
 * here so the result equals the UUID the server's SMBIOS (and dmidecode) reports.
 */
export function clientUuid(p: DhcpPacket): string | undefined {
  const v = p.options.get(OPTION.clientUuid);
  if (!v) return undefined;
  if (v.length !== 17)
    throw new DhcpDecodeError(`option 97 (client machine identifier) has length ${v.length}, expected 17`);
  if (v[0] !== 0)
    throw new DhcpDecodeError(`option 97 (client machine identifier) has type ${v[0]}, expected 0 (GUID)`);
  const g = v.subarray(1);
  const swapped = Uint8Array.from([
    g[3],
    g[2],
    g[1],
    g[0],
    g[5],
    g[4],
    g[7],
    g[6],
    ...g.subarray(8),
  ] as number[]);
  const h = hex(swapped);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A lowercase SMBIOS UUID → option 97, its first three fields little-endian as firmware sends them. */
export function encodeClientUuid(uuid: string): Uint8Array {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid))
    throw new RangeError(`option 97 (client machine identifier) "${uuid}" is not a lowercase UUID`);
  const g = Buffer.from(uuid.replaceAll("-", ""), "hex");
  return Uint8Array.from([0, g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], ...g.subarray(8)] as number[]);
}

/** Option 82: relay agent sub-options 1 (circuit id) and 2 (remote id), as hex. */
export function relayAgent(p: DhcpPacket): { circuitId?: string; remoteId?: string } | undefined {
  const v = p.options.get(OPTION.relayAgent);
  if (!v) return undefined;
  // One hex string for the whole value, sliced per sub-option (two hex digits a byte).
  const all = hex(v);
  const out: { circuitId?: string; remoteId?: string } = {};
  let i = 0;
  while (i < v.length) {
    const code = v[i] as number;
    const len = v[i + 1];
    if (len === undefined || i + 2 + len > v.length)
      throw new DhcpDecodeError(`option 82 (relay agent) sub-option ${code} at offset ${i} is truncated`);
    if (code === 1) out.circuitId = all.slice(2 * (i + 2), 2 * (i + 2 + len));
    if (code === 2) out.remoteId = all.slice(2 * (i + 2), 2 * (i + 2 + len));
    i += 2 + len;
  }
  return out;
}

/** Sub-options 1 (circuit id) then 2 (remote id), each lowercase hex of at most 255 bytes. */
export function encodeRelayAgent(info: { circuitId?: string; remoteId?: string }): Uint8Array {
  const out: number[] = [];
  for (const [code, value] of [
    [1, info.circuitId],
    [2, info.remoteId],
  ] as const) {
    if (value === undefined) continue;
    const bytes = hexBytes(`option 82 (relay agent) sub-option ${code}`, value);
    if (bytes.length > 255)
      throw new RangeError(
        `option 82 (relay agent) sub-option ${code} has ${bytes.length} bytes, at most 255`,
      );
    out.push(code, bytes.length, ...bytes);
  }
  return Uint8Array.from(out);
}

/** PXE firmware identifies itself in option 60 as "PXEClient:Arch:xxxxx:UNDI:yyyzzz". */
export function parsePxeVendorClass(
  vc: string,
): { arch?: number; undiMajor?: number; undiMinor?: number } | undefined {
  if (!vc.startsWith("PXEClient")) return undefined;
  const m = /^PXEClient(?::Arch:(\d{5}))?(?::UNDI:(\d{3})(\d{3}))?/.exec(vc);
  return {
    ...(m?.[1] ? { arch: Number(m[1]) } : {}),
    ...(m?.[2] ? { undiMajor: Number(m[2]), undiMinor: Number(m[3]) } : {}),
  };
}

/** The vendor class parsePxeVendorClass reads back unchanged (UNDI major and minor come together). */
export function formatPxeVendorClass(pxe: { arch?: number; undiMajor?: number; undiMinor?: number }): string {
  if ((pxe.undiMajor === undefined) !== (pxe.undiMinor === undefined))
    throw new RangeError("UNDI major and minor versions come together");
  let vc = "PXEClient";
  if (pxe.arch !== undefined) {
    checkInteger("PXE architecture", pxe.arch, 99999);
    vc += `:Arch:${String(pxe.arch).padStart(5, "0")}`;
  }
  if (pxe.undiMajor !== undefined && pxe.undiMinor !== undefined) {
    checkInteger("UNDI major version", pxe.undiMajor, 999);
    checkInteger("UNDI minor version", pxe.undiMinor, 999);
    vc += `:UNDI:${String(pxe.undiMajor).padStart(3, "0")}${String(pxe.undiMinor).padStart(3, "0")}`;
  }
  return vc;
}
