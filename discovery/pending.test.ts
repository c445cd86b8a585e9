import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Hardware } from "../lib/api/tinkerbell.ts";
import { PendingTracker, isPending, lastSeenOf } from "./pending.ts";

const T0 = Date.parse("2026-11-24T12:00:00Z");
const HOUR = 3_600_000;

function hw(
  name: string,
  opts: { seen?: number; created?: number; labels?: Record<string, string> } = {},
): Hardware {
  return {
    metadata: {
      namespace: "ns",
      name,
      labels: opts.labels ?? { "metalpool.io/approval": "pending" },
      ...(opts.created === undefined ? {} : { creationTimestamp: new Date(opts.created).toISOString() }),
      ...(opts.seen === undefined
        ? {}
        : { annotations: { "metalpool.io/last-seen": new Date(opts.seen).toISOString() } }),
    },
    spec: {},
  };
}

describe("pending Hardware", () => {
  it("is labelled approval=pending and not approved", () => {
    expect(isPending(hw("a"))).toBe(true);
    expect(isPending(hw("a", { labels: { "metalpool.io/approved": "true" } }))).toBe(false);
    expect(
      isPending(hw("a", { labels: { "metalpool.io/approval": "pending", "metalpool.io/approved": "true" } })),
    ).toBe(false);
  });

  it("was last seen at its last-seen annotation, else at its creation", () => {
    expect(lastSeenOf(hw("a", { seen: T0, created: T0 - HOUR }))).toBe(T0);
    expect(lastSeenOf(hw("a", { created: T0 - HOUR }))).toBe(T0 - HOUR);
    expect(lastSeenOf(hw("a"))).toBeUndefined();
  });

  it("counts only while seen within the expiry, and counts again once seen again", () => {
    const t = new PendingTracker(HOUR);
    t.put(hw("a", { seen: T0 }), T0);
    t.put(hw("b", { created: T0 + 10 * 60_000 }), T0);
    t.put(hw("approved", { seen: T0, labels: { "metalpool.io/approved": "true" } }), T0);
    expect(t.active(T0 + 10 * 60_000)).toBe(2);
    expect(t.active(T0 + HOUR)).toBe(1);
    expect(t.expired(T0 + HOUR)).toEqual(["ns/a"]);
    t.put(hw("a", { seen: T0 + HOUR + 1 }), T0 + HOUR + 1); // it came back
    expect(t.active(T0 + HOUR + 1)).toBe(2);
    expect(t.expired(T0 + HOUR + 1)).toEqual([]);
    expect(t.active(T0 + 3 * HOUR)).toBe(0);
  });

  it("stops counting Hardware that was approved or deleted, and ignores resyncs", () => {
    const t = new PendingTracker(HOUR);
    const a = hw("a", { seen: T0 });
    t.put(a, T0);
    t.put(a, T0);
    t.put(hw("b", { seen: T0 }), T0);
    expect(t.active(T0)).toBe(2);
    t.put(hw("a", { seen: T0, labels: { "metalpool.io/approved": "true" } }), T0);
    t.remove(hw("b"));
    expect(t.active(T0)).toBe(0);
    expect(t.expired(T0 + 2 * HOUR)).toEqual([]);
  });

  it("agrees with counting every entry by hand, whatever the order of events", () => {
    const event = fc.record({
      name: fc.integer({ min: 0, max: 7 }),
      seenAgo: fc.option(fc.integer({ min: 0, max: 3 * HOUR })),
      pending: fc.boolean(),
      deleted: fc.boolean(),
      advance: fc.nat(HOUR / 2),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 80 }), (events) => {
        const t = new PendingTracker(HOUR);
        const model = new Map<string, number>(); // name → last seen, pending ones only
        let now = T0;
        for (const e of events) {
          now += e.advance;
          const name = String(e.name);
          const seen = e.seenAgo === null ? undefined : now - e.seenAgo;
          const labels: Record<string, string> = e.pending ? { "metalpool.io/approval": "pending" } : {};
          if (e.deleted) {
            t.remove(hw(name));
            model.delete(name);
          } else {
            t.put(hw(name, { ...(seen === undefined ? {} : { seen }), labels }), now);
            if (e.pending) model.set(name, seen ?? model.get(name) ?? now);
            else model.delete(name);
          }
          const fresh = [...model].filter(([, s]) => now - s < HOUR);
          expect(t.active(now)).toBe(fresh.length);
          expect(t.expired(now).sort()).toEqual(
            [...model]
              .filter(([, s]) => now - s >= HOUR)
              .map(([n]) => `ns/${n}`)
              .sort(),
          );
        }
      }),
    );
  });
});
