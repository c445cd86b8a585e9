/**
 * Packet → facts about the client, or the reasons it is not a PXE client worth discovering. Pure.
 */
import { BOOTREQUEST, DhcpDecodeError, type DhcpPacket } from "./dhcp/codec.ts";
import {
  clientArchitectures,
  clientId,
  clientNdi,
  clientUuid,
  hostname,
  messageType,
  parsePxeVendorClass,
  relayAgent,
  userClasses,
  vendorClass,
  type MessageType,
} from "./dhcp/options.ts";

export type Arch = "x86_64" | "aarch64" | "x86" | "arm";

/** IANA processor architecture types (RFC 4578 and successors) → Tinkerbell's arch and firmware. */
const ARCHITECTURES: Record<number, { arch: Arch; uefi: boolean }> = {
  0: { arch: "x86_64", uefi: false }, // x86 BIOS: Tinkerbell calls every PC BIOS client x86_64
  6: { arch: "x86", uefi: true },
  7: { arch: "x86_64", uefi: true },
  9: { arch: "x86_64", uefi: true },
  10: { arch: "arm", uefi: true },
  11: { arch: "aarch64", uefi: true },
  15: { arch: "x86", uefi: true }, // HTTP boot
  16: { arch: "x86_64", uefi: true }, // HTTP boot
  18: { arch: "arm", uefi: true }, // HTTP boot
  19: { arch: "aarch64", uefi: true }, // HTTP boot
};

export interface ClientFacts {
  mac: string;
  xid: number;
  messageType: MessageType;
  /** The relay's address when the request came through a relay (giaddr), else undefined. */
  relay?: string;
  /** Relay agents the request passed (each one adds 1); a direct request has 0. */
  hops: number;
  relayAgent?: { circuitId?: string; remoteId?: string };
  archCode: number;
  arch: Arch;
  uefi: boolean;
  vendorClass: string;
  userClasses: string[];
  uuid?: string;
  hostname?: string;
  clientId?: string;
  undi?: { major: number; minor: number };
}

export type FactsResult = { ok: true; facts: ClientFacts } | { ok: false; reasons: string[] };

export function macOf(p: DhcpPacket): string {
  return Array.from(p.chaddr.subarray(0, 6), (x) => x.toString(16).padStart(2, "0")).join(":");
}

export function clientFacts(p: DhcpPacket): FactsResult {
  const reasons: string[] = [];
  if (p.op !== BOOTREQUEST) reasons.push(`op ${p.op} is not BOOTREQUEST`);
  if (p.htype !== 1 || p.hlen !== 6)
    reasons.push(`hardware type ${p.htype}/length ${p.hlen} is not Ethernet`);
  let type: MessageType | undefined;
  let decoded:
    | Omit<ClientFacts, "mac" | "xid" | "messageType" | "relay" | "hops" | "archCode" | "arch" | "uefi">
    | undefined;
  let archCodes: number[] | undefined;
  try {
    type = messageType(p);
    archCodes = clientArchitectures(p);
    const ndi = clientNdi(p);
    const uuid = clientUuid(p);
    const host = hostname(p);
    const id = clientId(p);
    const relayInfo = relayAgent(p);
    decoded = {
      vendorClass: vendorClass(p) ?? "",
      userClasses: userClasses(p) ?? [],
      ...(uuid ? { uuid } : {}),
      ...(host ? { hostname: host } : {}),
      ...(id ? { clientId: id } : {}),
      ...(relayInfo ? { relayAgent: relayInfo } : {}),
      ...(ndi ? { undi: { major: ndi.major, minor: ndi.minor } } : {}),
    };
  } catch (err) {
    if (err instanceof DhcpDecodeError) return { ok: false, reasons: [...reasons, err.message] };
    throw err;
  }
  if (type !== "DISCOVER" && type !== "REQUEST")
    reasons.push(type ? `message type ${type} is not DISCOVER or REQUEST` : "no message type (option 53)");
  const pxe = parsePxeVendorClass(decoded.vendorClass);
  if (!pxe) reasons.push("no PXEClient vendor class (option 60)");
  const archCode = archCodes?.[0] ?? pxe?.arch;
  const known = archCode === undefined ? undefined : ARCHITECTURES[archCode];
  if (archCode === undefined) reasons.push("no client architecture (option 93 or option 60)");
  else if (!known) reasons.push(`unknown client architecture ${archCode}`);
  if (reasons.length || !known || !type || archCode === undefined) return { ok: false, reasons };
  return {
    ok: true,
    facts: {
      mac: macOf(p),
      xid: p.xid,
      messageType: type,
      ...(p.giaddr !== "0.0.0.0" ? { relay: p.giaddr } : {}),
      hops: p.hops,
      archCode,
      arch: known.arch,
      uefi: known.uefi,
      ...decoded,
    },
  };
}
