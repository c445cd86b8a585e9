import { describe, expect, it } from "vitest";
import { matchesSelector } from "./selector.ts";

describe("label selectors", () => {
  const labels = { rack: "r1", class: "compute" };
  it("follow Kubernetes semantics for every operator", () => {
    expect(matchesSelector(labels, {})).toBe(true);
    expect(matchesSelector(labels, { matchLabels: { rack: "r1" } })).toBe(true);
    expect(matchesSelector(labels, { matchLabels: { rack: "r2" } })).toBe(false);
    expect(
      matchesSelector(labels, { matchExpressions: [{ key: "rack", operator: "In", values: ["r1", "r2"] }] }),
    ).toBe(true);
    expect(
      matchesSelector(labels, { matchExpressions: [{ key: "rack", operator: "NotIn", values: ["r1"] }] }),
    ).toBe(false);
    expect(
      matchesSelector(labels, { matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }),
    ).toBe(true);
    expect(matchesSelector(labels, { matchExpressions: [{ key: "class", operator: "Exists" }] })).toBe(true);
    expect(matchesSelector(labels, { matchExpressions: [{ key: "class", operator: "DoesNotExist" }] })).toBe(
      false,
    );
    expect(matchesSelector(undefined, { matchExpressions: [{ key: "x", operator: "DoesNotExist" }] })).toBe(
      true,
    );
  });
});
