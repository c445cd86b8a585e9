import type { Hardware } from "../api/tinkerbell.ts";

/**
 * UEFI unless the Hardware's first interface says its firmware is legacy BIOS (dhcp.uefi: false) — the
 * same field smee reads to pick the iPXE binary, so the one-time boot and the DHCP answer agree.
 */
export function wantsUefi(hw: Hardware): boolean {
  return hw.spec.interfaces?.[0]?.dhcp?.uefi !== false;
}
