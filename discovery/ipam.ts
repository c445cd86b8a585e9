/**
 * Addresses for discovered servers: the lowest free address of the configured range that no Hardware
 * uses on any interface and that is not promised to a creation still in flight. The used addresses are kept
 * from informer events (add/update/delete), so allocating never scans the Hardware; a "lowest possibly
 * free" mark makes a run of allocations walk the range once instead of from its start each time.
 */
import type { Hardware } from "../lib/api/tinkerbell.ts";
import { intToIp, ipToInt, parseIpv4, parseRange } from "./ip.ts";
import { hardwareKey as keyOf } from "./hardware.ts";

export class AddressPool {
  private readonly start: number;
  private readonly end: number;
  /** Address → how many Hardware use it (two typed by hand may share one). Only addresses in the range. */
  private readonly users = new Map<number, number>();
  private readonly usedBy = new Map<string, number[]>();
  private readonly reserved = new Set<number>();
  /** Every address below this one is used or reserved. */
  private lowestFree: number;

  constructor(range: string) {
    const r = parseRange(range);
    if (!r) throw new Error(`address range ${range} is not START-END with START <= END`);
    this.start = r.start;
    this.end = r.end;
    this.lowestFree = r.start;
  }

  /** Records the addresses an added or updated Hardware uses (replacing what it used before). */
  put(hw: Hardware): void {
    this.remove(hw);
    const inRange: number[] = [];
    for (const iface of hw.spec.interfaces ?? []) {
      const n = parseIpv4(iface.dhcp?.ip?.address ?? "");
      if (n !== undefined && n >= this.start && n <= this.end) inRange.push(n);
    }
    if (!inRange.length) return;
    this.usedBy.set(keyOf(hw), inRange);
    for (const n of inRange) this.users.set(n, (this.users.get(n) ?? 0) + 1);
  }

  remove(hw: Hardware): void {
    const key = keyOf(hw);
    for (const n of this.usedBy.get(key) ?? []) {
      const left = (this.users.get(n) ?? 1) - 1;
      if (left > 0) this.users.set(n, left);
      else this.freed(n);
    }
    this.usedBy.delete(key);
  }

  /** Takes the lowest free address, or undefined when the range is exhausted. */
  allocate(): string | undefined {
    for (let n = this.lowestFree; n <= this.end; n++) {
      if (!this.users.has(n) && !this.reserved.has(n)) {
        this.reserved.add(n);
        this.lowestFree = n + 1;
        return intToIp(n);
      }
    }
    this.lowestFree = this.end + 1;
    return undefined;
  }

  /** Ends a reservation once the Hardware exists (and was put here) or the creation failed. */
  release(address: string): void {
    const n = ipToInt(address);
    if (this.reserved.delete(n) && !this.users.has(n)) this.freed(n);
  }

  private freed(n: number): void {
    this.users.delete(n);
    if (n < this.lowestFree) this.lowestFree = n;
  }
}
