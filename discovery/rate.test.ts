import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SlidingWindow, SourceBuckets } from "./rate.ts";

describe("the sliding window", () => {
  it("counts events of the last span only", () => {
    const w = new SlidingWindow(60_000);
    w.add(0);
    w.add(30_000);
    expect(w.count(59_999)).toBe(2);
    expect(w.count(60_000)).toBe(1);
    expect(w.count(90_000)).toBe(0);
  });

  it("agrees with filtering every event, for any increasing times", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5_000), { maxLength: 300 }), (gaps) => {
        const w = new SlidingWindow(10_000);
        const all: number[] = [];
        let now = 0;
        for (const gap of gaps) {
          now += gap;
          expect(w.count(now)).toBe(all.filter((t) => now - t < 10_000).length);
          w.add(now);
          all.push(now);
        }
      }),
    );
  });
});

describe("per-source token buckets", () => {
  const rule = { creationsPerMinute: 6, burst: 2 };

  it("lets a quiet source make a burst, then refills at the configured rate up to the burst", () => {
    const b = new SourceBuckets(rule, 100);
    expect(b.available("10.0.0.1", 0)).toBe(2);
    b.take("10.0.0.1", 0);
    b.take("10.0.0.1", 0);
    expect(b.available("10.0.0.1", 0)).toBe(0);
    expect(b.available("10.0.0.2", 0)).toBe(2); // another source is not affected
    expect(b.available("10.0.0.1", 10_000)).toBeCloseTo(1); // 6 a minute: one per 10 s
    expect(b.available("10.0.0.1", 3_600_000)).toBe(2);
  });

  it("keeps at most maxSources buckets; a forgotten source starts full", () => {
    const b = new SourceBuckets(rule, 2);
    for (const source of ["a", "b", "c"]) b.take(source, 0);
    expect(b.size).toBe(2);
    expect(b.available("a", 0)).toBe(2);
    expect(b.available("c", 0)).toBe(1);
  });

  it("never lets a source create more than burst + rate × time", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(20_000), { maxLength: 200 }), (gaps) => {
        const b = new SourceBuckets(rule, 10);
        let now = 0;
        let taken = 0;
        for (const gap of gaps) {
          now += gap;
          if (b.available("s", now) >= 1) {
            b.take("s", now);
            taken++;
          }
        }
        expect(taken).toBeLessThanOrEqual(rule.burst + (now * rule.creationsPerMinute) / 60_000);
      }),
    );
  });
});
