import { describe, expect, it } from "vitest";
import { WorkQueue, runWorker } from "./queue.ts";

describe("the work queue", () => {
  it("holds a waiting key once however often it is added", async () => {
    const q = new WorkQueue();
    q.add("a");
    q.add("a");
    q.add("b");
    expect(q.length).toBe(2);
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBe("b");
  });

  it("never hands out a key that is being processed; an add meanwhile runs it again afterwards", async () => {
    const q = new WorkQueue();
    q.add("a");
    const key = await q.get();
    q.add("a");
    expect(q.length).toBe(0);
    q.done(key as string);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe("a");
  });

  it("backs off per key exponentially, capped, and forgets on success", () => {
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000 });
    expect([1, 2, 3, 4, 5].map(() => q.addRateLimited("a"))).toEqual([100, 200, 400, 800, 1000]);
    expect(q.addRateLimited("b")).toBe(100);
    q.forget("a");
    expect(q.addRateLimited("a")).toBe(100);
    q.shutDown();
  });

  it("delivers delayed keys after the delay, the earliest request winning", async () => {
    const q = new WorkQueue();
    q.addAfter("a", 50);
    q.addAfter("a", 5_000);
    const started = Date.now();
    expect(await q.get()).toBe("a");
    expect(Date.now() - started).toBeLessThan(4_000);
    q.shutDown();
  });

  it("releases waiting workers on shutdown", async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
  });

  it("runs a worker that backs off a failing key, forgets it once it succeeds, and requeues when asked", async () => {
    const q = new WorkQueue({ baseDelayMs: 1, maxDelayMs: 4 });
    const calls: string[] = [];
    const errors: number[] = [];
    let failuresLeft = 2;
    const worker = runWorker(
      q,
      (key) => {
        calls.push(key);
        if (key === "flaky" && failuresLeft-- > 0) return Promise.reject(new Error("boom"));
        if (key === "again" && calls.filter((c) => c === "again").length === 1)
          return Promise.resolve({ requeueAfterMs: 1 });
        return Promise.resolve(undefined);
      },
      (_key, _err, retryInMs) => errors.push(retryInMs),
    );
    q.add("flaky");
    q.add("again");
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (
          calls.filter((c) => c === "flaky").length === 3 &&
          calls.filter((c) => c === "again").length === 2
        ) {
          clearInterval(check);
          resolve();
        }
      }, 1);
    });
    expect(errors).toEqual([1, 2]);
    expect(q.failureCount("flaky")).toBe(0);
    q.shutDown();
    await worker;
  });
});
