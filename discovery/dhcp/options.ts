/**
 * Typed views of the DHCP options discovery cares about. Each returns undefined when the option is
 * absent and throws DhcpDecodeError with an exact message when it is present but malformed.
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

const text = (b: Uint8Array): string => Buffer.from(b).toString("latin1").replace(/\0+$/, "");
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

export function messageType(p: DhcpPacket): MessageType | undefined {
  const v = p.options.get(OPTION.messageType);
  if (!v) return undefined;
  if (v.length !== 1)
    throw new DhcpDecodeError(`option 53 (message type) has length ${v.length}, expected 1`);
  const name = MESSAGE_TYPES[v[0] as number];
  if (!name) throw new DhcpDecodeError(`option 53 (message type) has unknown value ${v[0]}`);
  return name;
}

export function vendorClass(p: DhcpPacket): string | undefined {
  const v = p.options.get(OPTION.vendorClass);
  return v ? text(v) : undefined;
}

export function hostname(p: DhcpPacket): string | undefined {
  const v = p.options.get(OPTION.hostname);
  return v?.length ? text(v) : undefined;
}

/** Option 61: the type byte and the identifier, as "type:hex". */
export function clientId(p: DhcpPacket): string | undefined {
  const v = p.options.get(OPTION.clientId);
  if (!v) return undefined;
  if (v.length < 2)
    throw new DhcpDecodeError(`option 61 (client identifier) has length ${v.length}, expected at least 2`);
  return `${v[0]}:${hex(v.subarray(1))}`;
}

/**
 * Option 77. RFC 3004 defines a list of length-prefixed classes, but iPXE sends the bare string "iPXE";
 * a value that does not parse as a list is taken as one class.
 */
export function userClasses(p: DhcpPacket): string[] | undefined {
  const v = p.options.get(OPTION.userClass);
  if (!v) return undefined;
  const list: string[] = [];
  let i = 0;
  while (i < v.length) {
    const len = v[i] as number;
    if (len === 0 || i + 1 + len > v.length) return [text(v)];
    list.push(text(v.subarray(i + 1, i + 1 + len)));
    i += 1 + len;
  }
  return list;
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

/** Option 94: network interface identifier (type 1 = UNDI) and its version. */
export function clientNdi(p: DhcpPacket): { type: number; major: number; minor: number } | undefined {
  const v = p.options.get(OPTION.clientNdi);
  if (!v) return undefined;
  if (v.length !== 3)
    throw new DhcpDecodeError(`option 94 (client network interface) has length ${v.length}, expected 3`);
  return { type: v[0] as number, major: v[1] as number, minor: v[2] as number };
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

/** Option 82: relay agent sub-options 1 (circuit id) and 2 (remote id), as hex. */
export function relayAgent(p: DhcpPacket): { circuitId?: string; remoteId?: string } | undefined {
  const v = p.options.get(OPTION.relayAgent);
  if (!v) return undefined;
  const out: { circuitId?: string; remoteId?: string } = {};
  let i = 0;
  while (i < v.length) {
    const code = v[i] as number;
    const len = v[i + 1];
    if (len === undefined || i + 2 + len > v.length)
      throw new DhcpDecodeError(`option 82 (relay agent) sub-option ${code} at offset ${i} is truncated`);
    const value = hex(v.subarray(i + 2, i + 2 + len));
    if (code === 1) out.circuitId = value;
    if (code === 2) out.remoteId = value;
    i += 2 + len;
  }
  return out;
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
