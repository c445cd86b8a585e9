import { describe, expect, it } from "vitest";
import { TokenBucket, requestLimitFromFlags } from "./rate-limit.ts";

/** A bucket on a clock the test moves; sleeps are recorded and end when the test says. */
function bucket(qps: number, burst: number) {
  let now = 0;
  const sleeps: { ms: number; wake: () => void; fail: (e: Error) => void }[] = [];
  const b = new TokenBucket({
    qps,
    burst,
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        sleeps.push({ ms, wake: resolve, fail: reject });
        signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
      }),
  });
  return { b, sleeps, advance: (ms: number) => (now += ms) };
}

describe("the request limit", () => {
  it("lets a burst go at once, then spaces requests 1/qps apart in arrival order", async () => {
    const { b, sleeps } = bucket(10, 3);
    const order: number[] = [];
    const takes = Array.from({ length: 6 }, (_, i) => b.take().then(() => order.push(i)));
    await Promise.resolve();
    expect(order).toEqual([0, 1, 2]);
    expect(sleeps.map((s) => s.ms)).toEqual([100, 200, 300]);
    for (const s of sleeps) s.wake();
    await Promise.all(takes);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(b.waitedSeconds).toBeCloseTo(0.6);
  });

  it("refills at qps up to the burst while idle", async () => {
    const { b, sleeps, advance } = bucket(10, 2);
    await b.take();
    await b.take();
    advance(150); // 1.5 tokens back
    await b.take();
    expect(sleeps).toEqual([]);
    advance(10_000); // never more than the burst
    await b.take();
    await b.take();
    const third = b.take();
    expect(sleeps.map((s) => s.ms)).toEqual([100]);
    sleeps[0]?.wake();
    await third;
  });

  it("gives an aborted wait's turn back", async () => {
    const { b, sleeps } = bucket(1, 1);
    await b.take();
    const ac = new AbortController();
    const waiting = b.take(ac.signal);
    ac.abort();
    await expect(waiting).rejects.toThrow("aborted");
    void b.take(); // waits one period, not two
    expect(sleeps.map((s) => s.ms)).toEqual([1000, 1000]);
  });

  it("refuses a limit that would never let a request go", () => {
    expect(() => new TokenBucket({ qps: 0, burst: 1 })).toThrow(/qps > 0/);
    expect(() => new TokenBucket({ qps: 5, burst: 0 })).toThrow(/burst/);
  });
});

describe("--kube-api-qps and --kube-api-burst", () => {
  it("give a limit, none for qps 0, and a sentence for nonsense", () => {
    expect(requestLimitFromFlags("200", "400")).toEqual({ qps: 200, burst: 400 });
    expect(requestLimitFromFlags("2.5", "1")).toEqual({ qps: 2.5, burst: 1 });
    expect(requestLimitFromFlags("0", "400")).toBeUndefined();
    expect(() => requestLimitFromFlags("-1", "400")).toThrow(/--kube-api-qps must be a number ≥ 0/);
    expect(() => requestLimitFromFlags("", "400")).toThrow(/--kube-api-qps/);
    expect(() => requestLimitFromFlags("10", "0")).toThrow(/--kube-api-burst must be a positive integer/);
    expect(() => requestLimitFromFlags("10", "1.5")).toThrow(/--kube-api-burst/);
  });
});
