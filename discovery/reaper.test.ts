import { describe, expect, it } from "vitest";
import type { Hardware } from "../lib/api/tinkerbell.ts";
import { keepReason } from "./reaper.ts";

const T0 = Date.parse("2026-11-24T12:00:00Z");
const HOUR = 3_600_000;

function hw(
  labels: Record<string, string>,
  extra: Partial<Hardware["metadata"]> = {},
  seen = T0 - HOUR,
): Hardware {
  return {
    metadata: {
      namespace: "ns",
      name: "discovered-525400000001",
      labels,
      annotations: { "metalpool.io/last-seen": new Date(seen).toISOString() },
      ...extra,
    },
    spec: {},
  };
}
const discoveredPending = { "metalpool.io/discovered": "true", "metalpool.io/approval": "pending" };

describe("which expired pending Hardware may be deleted", () => {
  const cases: [string, Hardware, string | undefined][] = [
    ["discovered, still pending, unclaimed, unseen for the expiry", hw(discoveredPending), undefined],
    ["seen again since", hw(discoveredPending, {}, T0 - HOUR + 1), "seen within the expiry"],
    ["approved since", hw({ ...discoveredPending, "metalpool.io/approved": "true" }), "no longer pending"],
    ["approval label removed", hw({ "metalpool.io/discovered": "true" }), "no longer pending"],
    ["claimed by a pool", hw({ ...discoveredPending, "metalpool.io/pool-uid": "u1" }), "claimed by a pool"],
    ["typed by hand", hw({ "metalpool.io/approval": "pending" }), "not created by discovery"],
    [
      "already being deleted",
      hw(discoveredPending, { deletionTimestamp: "2026-11-24T11:00:00Z" }),
      "already being deleted",
    ],
  ];
  it.each(cases)("%s", (_, h, reason) => {
    expect(keepReason(h, T0, HOUR)).toBe(reason);
  });

  it("keeps Hardware with no time at all", () => {
    const h = hw(discoveredPending);
    delete h.metadata.annotations;
    expect(keepReason(h, T0, HOUR)).toBe("seen within the expiry");
  });
});
