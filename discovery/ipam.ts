/**
 * Addresses for discovered servers: the lowest free address of the configured range that no Hardware
 * uses on any interface and that is not promised to a creation still in flight.
 */
import type { Hardware } from "../lib/api/tinkerbell.ts";
import { intToIp, ipToInt } from "./ip.ts";

export class AddressPool {
  private readonly start: number;
  private readonly end: number;
  private readonly reserved = new Set<number>();

  constructor(range: string) {
    const [from, to] = range.split("-") as [string, string];
    this.start = ipToInt(from);
    this.end = ipToInt(to);
    if (this.end < this.start) throw new Error(`address range ${range} ends before it starts`);
  }

  /** Takes the lowest free address, or undefined when the range is exhausted. */
  allocate(hardware: Hardware[]): string | undefined {
    const used = new Set<number>(this.reserved);
    for (const hw of hardware) {
      for (const iface of hw.spec.interfaces ?? []) {
        const address = iface.dhcp?.ip?.address;
        if (address) used.add(ipToInt(address));
      }
    }
    for (let n = this.start; n <= this.end; n++) {
      if (!used.has(n)) {
        this.reserved.add(n);
        return intToIp(n);
      }
    }
    return undefined;
  }

  /** Ends a reservation once the Hardware exists (the cache then knows it) or the creation failed. */
  release(address: string): void {
    this.reserved.delete(ipToInt(address));
  }
}
