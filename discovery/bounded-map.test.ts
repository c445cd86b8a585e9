import { describe, expect, it } from "vitest";
import { BoundedMap } from "./bounded-map.ts";

describe("a bounded map", () => {
  it("never holds more than its capacity, forgetting the least recently written", () => {
    const m = new BoundedMap<string, number>(3);
    for (const [i, k] of ["a", "b", "c", "a", "d"].entries()) m.set(k, i);
    expect(m.size).toBe(3);
    expect(m.get("b")).toBeUndefined(); // "a" was rewritten after "b", so "b" went first
    expect([m.get("c"), m.get("a"), m.get("d")]).toEqual([2, 3, 4]);
  });

  it("drops expired entries from the oldest write on, and stops at the first fresh one", () => {
    const m = new BoundedMap<string, number>(10);
    m.set("old", 1);
    m.set("older-but-rewritten", 0);
    m.set("mid", 5);
    m.set("older-but-rewritten", 9);
    const looked: string[] = [];
    m.dropOldestWhile((t, k) => {
      looked.push(k);
      return t < 6;
    });
    expect(looked).toEqual(["old", "mid", "older-but-rewritten"]);
    expect(m.size).toBe(1);
    expect(m.get("older-but-rewritten")).toBe(9);
  });

  it("refuses a capacity below one", () => {
    expect(() => new BoundedMap(0)).toThrow("at least one entry");
  });
});
