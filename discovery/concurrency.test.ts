import { describe, expect, it } from "vitest";
import { ConcurrencyLimit } from "./concurrency.ts";

/** A task that finishes when told to, recording when it started. */
function gate(started: number[], i: number): { task: () => Promise<number>; open: () => void } {
  let open: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (open = resolve));
  return {
    task: async () => {
      started.push(i);
      await done;
      return i;
    },
    open: () => open(),
  };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("ConcurrencyLimit", () => {
  it("runs at most `limit` tasks at once and the waiting ones in arrival order", async () => {
    const limit = new ConcurrencyLimit(2);
    const started: number[] = [];
    const gates = Array.from({ length: 200 }, (_, i) => gate(started, i));
    const results = gates.map((g) => limit.run(g.task));
    await settle();
    expect(started).toEqual([0, 1]);
    expect([limit.active, limit.queued]).toEqual([2, 198]);
    for (const [i, g] of gates.entries()) {
      g.open();
      await settle();
      expect(limit.active).toBe(Math.min(2, 199 - i));
      expect(started).toEqual(Array.from({ length: Math.min(200, i + 3) }, (_, k) => k));
    }
    expect(await Promise.all(results)).toEqual(gates.map((_, i) => i));
    expect([limit.active, limit.queued]).toEqual([0, 0]);
  });

  it("frees the turn of a task that fails", async () => {
    const limit = new ConcurrencyLimit(1);
    await expect(limit.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await limit.run(() => Promise.resolve("next"))).toBe("next");
    expect(limit.active).toBe(0);
  });

  it("refuses a limit that is not a positive integer", () => {
    expect(() => new ConcurrencyLimit(0)).toThrow();
    expect(() => new ConcurrencyLimit(1.5)).toThrow();
  });
});
