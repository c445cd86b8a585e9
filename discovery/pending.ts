/**
 * Pending Hardware (discovered, nobody approved it yet) and when each was last seen, kept from informer
 * events. Only pending Hardware seen within `expiryMs` counts against the pending cap: junk MACs that never
 * come back stop blocking new servers once they expire. Counting is O(log n) amortized per event and per
 * query: a min-heap of last-seen times tells which entry expires next, and entries whose time changed since
 * they were pushed are skipped when they surface.
 */
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import type { Hardware } from "../lib/api/tinkerbell.ts";
import { hardwareKey as keyOf } from "./hardware.ts";

/** Pending: labelled approval=pending and not (also) approved. */
export function isPending(hw: Hardware): boolean {
  const labels = hw.metadata.labels ?? {};
  return labels[LABEL.approval] === "pending" && labels[LABEL.approved] !== "true";
}

/** When the server was last seen: the last-seen annotation, else the creation time; undefined if neither. */
export function lastSeenOf(hw: Hardware): number | undefined {
  for (const text of [hw.metadata.annotations?.[ANNOTATION.lastSeen], hw.metadata.creationTimestamp]) {
    const t = Date.parse(text ?? "");
    if (!Number.isNaN(t)) return t;
  }
  return undefined;
}

type Item = readonly [seen: number, key: string];
const seenAt = (heap: Item[], i: number): number => (heap[i] as Item)[0];

interface Entry {
  seen: number;
  active: boolean;
}

export class PendingTracker {
  private readonly entries = new Map<string, Entry>();
  private readonly stale = new Set<string>();
  /** [last seen, key], smallest time first; may hold outdated pairs, which are skipped. */
  private readonly heap: Item[] = [];
  private activeCount = 0;
  readonly expiryMs: number;

  constructor(expiryMs: number) {
    this.expiryMs = expiryMs;
  }

  /**
   * Records an added or updated Hardware. One with neither last-seen nor creation time (the API server
   * always sets the latter) is taken as seen when first recorded.
   */
  put(hw: Hardware, now: number): void {
    if (!isPending(hw)) return this.remove(hw);
    const key = keyOf(hw);
    const old = this.entries.get(key);
    const seen = lastSeenOf(hw) ?? old?.seen ?? now;
    if (old?.seen === seen) return; // a resync or an unrelated change: nothing to re-count
    if (old?.active) this.activeCount--;
    this.entries.set(key, { seen, active: true });
    this.stale.delete(key);
    this.activeCount++;
    this.push([seen, key]);
  }

  remove(hw: Hardware): void {
    const key = keyOf(hw);
    if (this.entries.get(key)?.active) this.activeCount--;
    this.entries.delete(key);
    this.stale.delete(key);
  }

  /** Pending Hardware seen within the expiry. */
  active(now: number): number {
    this.expire(now);
    return this.activeCount;
  }

  /** namespace/name of pending Hardware not seen within the expiry. */
  expired(now: number): string[] {
    this.expire(now);
    return [...this.stale];
  }

  private expire(now: number): void {
    for (let top = this.heap[0]; top && now - top[0] >= this.expiryMs; top = this.heap[0]) {
      this.pop();
      const [seen, key] = top;
      const entry = this.entries.get(key);
      if (!entry?.active || entry.seen !== seen) continue; // outdated: the entry moved on or went away
      entry.active = false;
      this.activeCount--;
      this.stale.add(key);
    }
  }

  private push(item: Item): void {
    const h = this.heap;
    h.push(item);
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (seenAt(h, parent) <= item[0]) return;
      [h[i], h[parent]] = [h[parent] as Item, item];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (!last || h.length === 0) return;
    h[0] = last;
    for (let i = 0; ;) {
      let least = i;
      for (const child of [2 * i + 1, 2 * i + 2])
        if (child < h.length && seenAt(h, child) < seenAt(h, least)) least = child;
      if (least === i) return;
      [h[i], h[least]] = [h[least] as Item, h[i] as Item];
      i = least;
    }
  }
}
