import { describe, expect, it } from "vitest";
import type { MemberPhase } from "../../lib/api/baremetalpool.ts";
import { chooseVictims } from "./victims.ts";
import type { MemberView } from "./types.ts";

function member(name: string, phase: MemberPhase, claimedAt: string, preferred = false): MemberView {
  return {
    hw: {
      metadata: {
        name,
        annotations: {
          "metalpool.io/claimed-at": claimedAt,
          ...(preferred ? { "metalpool.io/delete-preferred": "true" } : {}),
        },
      },
      spec: {},
    },
    md: undefined,
    machines: 0,
    workflows: [],
    wipe: undefined,
    attempt: 1,
    releasing: false,
    phase,
  };
}

describe("scale-down victims", () => {
  const members = [
    member("old-ready", "Ready", "2026-01-01T00:00:00Z"),
    member("new-ready", "Ready", "2026-03-01T00:00:00Z"),
    member("provisioning", "Provisioning", "2026-02-01T00:00:00Z"),
    member("failed", "Failed", "2026-01-15T00:00:00Z"),
    member("marked", "Ready", "2025-12-01T00:00:00Z", true),
  ];
  const names = (ms: MemberView[]): string[] => ms.map((m) => m.hw.metadata.name ?? "");

  it("takes the person's choice first, then failed, then not ready, then the newest", () => {
    expect(names(chooseVictims(members, 0))).toEqual([
      "marked",
      "failed",
      "provisioning",
      "new-ready",
      "old-ready",
    ]);
    expect(names(chooseVictims(members, 3))).toEqual(["marked", "failed"]);
  });

  it("chooses nobody when the pool is not too big, and ignores members already releasing", () => {
    expect(chooseVictims(members, 5)).toEqual([]);
    const releasing = members.map((m, i) => ({ ...m, releasing: i < 2 }));
    expect(names(chooseVictims(releasing, 2))).toEqual(["marked"]);
  });
});
