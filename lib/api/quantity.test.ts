import { describe, expect, it } from "vitest";
import { parseDuration, parseQuantity } from "./quantity.ts";

describe("quantities", () => {
  it("parses binary and decimal suffixes", () => {
    expect(parseQuantity("64Gi")).toBe(64 * 2 ** 30);
    expect(parseQuantity("500G")).toBe(500e9);
    expect(parseQuantity("1.5Ti")).toBe(1.5 * 2 ** 40);
    expect(parseQuantity("1024")).toBe(1024);
  });
  it("rejects what is not a quantity, saying so", () => {
    expect(() => parseQuantity("lots")).toThrow('"lots" is not a quantity such as 64Gi or 500G');
    expect(() => parseQuantity("12 Gi")).toThrow();
  });
});

describe("durations", () => {
  it("parses Go-style durations", () => {
    expect(parseDuration("45m")).toBe(45 * 60_000);
    expect(parseDuration("1h30m")).toBe(90 * 60_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("1.5s")).toBe(1500);
  });
  it("rejects garbage", () => {
    expect(() => parseDuration("soon")).toThrow('"soon" is not a duration such as 45m or 1h30m');
    expect(() => parseDuration("")).toThrow("empty duration");
    expect(() => parseDuration("5m garbage")).toThrow();
  });
});
