import { describe, expect, it } from "vitest";
import type { Hardware } from "../lib/api/tinkerbell.ts";
import { swapUuidByteOrder } from "../lib/redfish/uuid.ts";
import { decideVouching, isVouchCandidate, normalMac, vouchPatch, type BmcReport } from "./vouch-match.ts";

const UUID = "4c4c4544-0051-3510-8057-b4c04f4d4e32";
const OTHER_UUID = "7a5e1b0c-0000-4000-8000-00000000000b";

function pending(
  name: string,
  mac: string,
  opts: { uuid?: string; labels?: Record<string, string>; bmcRef?: string } = {},
): Hardware {
  return {
    metadata: {
      name,
      namespace: "dc",
      resourceVersion: "7",
      labels: opts.labels ?? { "metalpool.io/discovered": "true", "metalpool.io/approval": "pending" },
      annotations: opts.uuid ? { "metalpool.io/uuid": opts.uuid } : {},
    },
    spec: {
      interfaces: [{ dhcp: { mac } }],
      ...(opts.bmcRef ? { bmcRef: { name: opts.bmcRef } } : {}),
    },
  };
}

const known = (name: string, bmcRef: string): Hardware => ({
  metadata: { name, namespace: "dc" },
  spec: { bmcRef: { name: bmcRef } },
});

const verdict = (hardware: Hardware[], reports: BmcReport[], name = "d1") =>
  decideVouching(hardware, reports).get(name);

/** The evidence of a vouch or the reason of a doubt, for asserting on the words. */
const said = (v: ReturnType<typeof verdict>): string =>
  v?.kind === "vouched" ? v.evidence : v?.kind === "doubtful" ? v.reason : "";

describe("a known BMC vouching for a pending discovered server", () => {
  it("vouches when the BMC lists the client's MAC, whatever its case or separators", () => {
    for (const listed of ["52:54:00:0A:00:01", "52-54-00-0a-00-01", "52:54:00:0a:00:01"])
      expect(verdict([pending("d1", "52:54:00:0a:00:01")], [{ machine: "m1", macs: [listed] }])).toEqual({
        kind: "vouched",
        machine: "m1",
        evidence: "NIC 52:54:00:0a:00:01",
      });
    expect(
      verdict([pending("d1", "52:54:00:0A:00:01")], [{ machine: "m1", macs: ["52:54:00:0a:00:01"] }]),
    ).toMatchObject({ kind: "vouched", machine: "m1" });
  });

  it("vouches by MAC and UUID when the BMC reports the UUID in the other byte order", () => {
    const swapped = swapUuidByteOrder(UUID) ?? "";
    expect(
      verdict(
        [pending("d1", "52:54:00:0a:00:01", { uuid: swapped })],
        [{ machine: "m1", uuid: UUID.toUpperCase(), macs: ["52:54:00:0a:00:01"] }],
      ),
    ).toMatchObject({ kind: "vouched", machine: "m1" });
  });

  it("vouches by UUID in either byte order when the BMC lists no NICs", () => {
    for (const reported of [UUID, swapUuidByteOrder(UUID) ?? ""]) {
      const v = verdict(
        [pending("d1", "52:54:00:0a:00:01", { uuid: UUID })],
        [{ machine: "m1", uuid: reported, macs: [] }],
      );
      expect(v).toMatchObject({ kind: "vouched", machine: "m1" });
      expect(said(v)).toBe(`system UUID ${reported} (the BMC lists no NICs)`);
    }
  });

  it("does not vouch on a UUID alone when the BMC lists NICs and the client's MAC is none of them", () => {
    // A UUID is broadcast in every PXE request: a host could send a real server's UUID with its own MAC.
    const v = verdict(
      [pending("d1", "52:54:00:ee:ee:ee", { uuid: UUID })],
      [{ machine: "m1", uuid: UUID, macs: ["52:54:00:0a:00:01"] }],
    );
    expect(v?.kind).toBe("doubtful");
    expect(said(v)).toContain("the client's MAC 52:54:00:ee:ee:ee is none of its NICs");
  });

  it("does not vouch for a listed MAC with another system's UUID", () => {
    expect(
      verdict(
        [pending("d1", "52:54:00:0a:00:01", { uuid: OTHER_UUID })],
        [{ machine: "m1", uuid: UUID, macs: ["52:54:00:0a:00:01"] }],
      ),
    ).toMatchObject({ kind: "doubtful" });
  });

  it("knows nothing when no BMC reports the MAC or the UUID", () => {
    expect(
      verdict(
        [pending("d1", "52:54:00:0a:00:01", { uuid: OTHER_UUID })],
        [
          { machine: "m1", uuid: UUID, macs: ["52:54:00:0b:00:01"] },
          { machine: "m2", macs: [] },
        ],
      ),
    ).toEqual({ kind: "unknown" });
    expect(verdict([pending("d1", "52:54:00:0a:00:01")], [])).toEqual({ kind: "unknown" });
  });

  it("ignores a BMC that another Hardware already names", () => {
    const reports = [{ machine: "m1", macs: ["52:54:00:0a:00:01"] }];
    expect(verdict([pending("d1", "52:54:00:0a:00:01"), known("real", "m1")], reports)).toEqual({
      kind: "unknown",
    });
    const earlier = pending("d0", "52:54:00:0a:00:02", {
      labels: { "metalpool.io/discovered": "true", "metalpool.io/approval": "vouched" },
    });
    earlier.metadata.annotations = { "metalpool.io/vouched-by": "m1" };
    expect(verdict([pending("d1", "52:54:00:0a:00:01"), earlier], reports)).toEqual({ kind: "unknown" });
  });

  it("vouches for nobody when one BMC reports two pending servers", () => {
    const verdicts = decideVouching(
      [pending("d1", "52:54:00:0a:00:01"), pending("d2", "52:54:00:0a:00:02")],
      [{ machine: "m1", macs: ["52:54:00:0a:00:01", "52:54:00:0a:00:02"] }],
    );
    expect(verdicts.get("d1")).toMatchObject({ kind: "doubtful" });
    expect(verdicts.get("d2")).toMatchObject({ kind: "doubtful" });
  });

  it("vouches for nobody when two BMCs report the server, or its spec.bmcRef names another BMC", () => {
    const two = [
      { machine: "m1", macs: ["52:54:00:0a:00:01"] },
      { machine: "m2", macs: ["52:54:00:0a:00:01"] },
    ];
    expect(verdict([pending("d1", "52:54:00:0a:00:01")], two)).toMatchObject({ kind: "doubtful" });
    const elsewhere = verdict([pending("d1", "52:54:00:0a:00:01", { bmcRef: "m9" })], [two[0] as BmcReport]);
    expect(elsewhere?.kind).toBe("doubtful");
    expect(said(elsewhere)).toContain("spec.bmcRef names bmc Machine m9");
    expect(
      verdict([pending("d1", "52:54:00:0a:00:01", { bmcRef: "m1" })], [two[0] as BmcReport]),
    ).toMatchObject({ kind: "vouched", machine: "m1" });
  });

  it("gives verdicts only for pending discovered Hardware nobody claimed", () => {
    const approved = pending("a", "52:54:00:0a:00:01", {
      labels: {
        "metalpool.io/discovered": "true",
        "metalpool.io/approval": "pending",
        "metalpool.io/approved": "true",
      },
    });
    const claimed = pending("c", "52:54:00:0a:00:01", {
      labels: {
        "metalpool.io/discovered": "true",
        "metalpool.io/approval": "pending",
        "metalpool.io/pool-uid": "u1",
      },
    });
    const byHand = pending("h", "52:54:00:0a:00:01", { labels: { "metalpool.io/approval": "pending" } });
    const deleting = pending("x", "52:54:00:0a:00:01");
    deleting.metadata.deletionTimestamp = "2026-01-01T00:00:00Z";
    for (const hw of [approved, claimed, byHand, deleting]) expect(isVouchCandidate(hw)).toBe(false);
    expect(isVouchCandidate(pending("d1", "52:54:00:0a:00:01"))).toBe(true);
  });
});

describe("approving a vouched server", () => {
  it("labels it vouched, names the BMC, sets spec.bmcRef, all guarded by the resourceVersion read", () => {
    expect(vouchPatch(pending("d1", "52:54:00:0a:00:01"), "m1")).toEqual({
      metadata: {
        resourceVersion: "7",
        labels: { "metalpool.io/approved": "true", "metalpool.io/approval": "vouched" },
        annotations: { "metalpool.io/vouched-by": "m1" },
      },
      spec: { bmcRef: { apiGroup: "bmc.tinkerbell.org", kind: "Machine", name: "m1" } },
    });
  });

  it("keeps a spec.bmcRef that is already there", () => {
    expect(vouchPatch(pending("d1", "52:54:00:0a:00:01", { bmcRef: "m1" }), "m1")).not.toHaveProperty("spec");
  });
});

describe("MAC normalisation", () => {
  it("accepts either case and separator and refuses anything else", () => {
    expect(normalMac(" 52-54-00-0A-00-01 ")).toBe("52:54:00:0a:00:01");
    expect(normalMac("52:54:00:0a:00")).toBeUndefined();
    expect(normalMac("")).toBeUndefined();
  });
});
