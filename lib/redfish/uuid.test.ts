import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sameSystemUuid, swapUuidByteOrder } from "./uuid.ts";

describe("system UUIDs across byte orders", () => {
  it("swaps the first three fields and keeps the rest", () => {
    expect(swapUuidByteOrder("38947555-7742-3448-3784-823347823834")).toBe(
      "55759438-4277-4834-3784-823347823834",
    );
  });

  it("matches a BMC's UUID with the PXE client's, in either order and case", () => {
    const bmc = "4C4C4544-0051-3510-8057-B4C04F4D4E32";
    expect(sameSystemUuid(bmc, "4c4c4544-0051-3510-8057-b4c04f4d4e32")).toBe(true);
    expect(sameSystemUuid(bmc, "44454c4c-5100-1035-8057-b4c04f4d4e32")).toBe(true);
    expect(sameSystemUuid(bmc, "44454c4c-5100-1035-8057-b4c04f4d4e33")).toBe(false);
  });

  it("matches nothing malformed", () => {
    expect(swapUuidByteOrder("not-a-uuid")).toBeUndefined();
    expect(sameSystemUuid("", "")).toBe(false);
  });

  it("is its own inverse", () => {
    fc.assert(
      fc.property(fc.uuid(), (u) => {
        expect(swapUuidByteOrder(swapUuidByteOrder(u) ?? "")).toBe(u.toLowerCase());
        expect(sameSystemUuid(u, swapUuidByteOrder(u) ?? "")).toBe(true);
      }),
    );
  });
});
