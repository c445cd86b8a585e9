import { describe, expect, it } from "vitest";
import { LABEL } from "../lib/api/labels.ts";
import type { Hardware } from "../lib/api/tinkerbell.ts";
import { fleetCounts, hardwareState, hardwareStates } from "./fleet.ts";

function server(
  name: string,
  labels: Record<string, string> = {},
  opts: { ns?: string; ip?: boolean } = {},
): Hardware {
  return {
    metadata: { name, namespace: opts.ns ?? "dc1", labels },
    spec: {
      disks: [{ device: "/dev/sda" }],
      interfaces: [
        {
          dhcp: {
            mac: "52:54:00:00:00:01",
            ...(opts.ip === false ? {} : { ip: { address: "10.0.0.2", netmask: "255.255.255.0" } }),
          },
        },
      ],
    },
  };
}

const claimed = { [LABEL.poolUID]: "uid", [LABEL.pool]: "p" };

describe("hardwareState", () => {
  it("puts every server in exactly one state", () => {
    expect(hardwareState(server("a"), undefined)).toBe("free-eligible");
    expect(hardwareState(server("a", {}, { ip: false }), undefined)).toBe("free-unprovisionable");
    expect(hardwareState(server("a", claimed), "Ready")).toBe("claimed");
    expect(hardwareState(server("a", claimed), "Deprovisioning")).toBe("claimed");
    expect(hardwareState(server("a", claimed), "Provisioning")).toBe("provisioning");
    expect(hardwareState(server("a", claimed), "Failed")).toBe("provisioning");
    expect(hardwareState(server("a", claimed), "Claimed")).toBe("provisioning");
    // A claim no pass has looked at yet is not counted as provisioning: it may be in service already.
    expect(hardwareState(server("a", claimed), undefined)).toBe("claimed");
    expect(hardwareState(server("a", { ...claimed, [LABEL.quarantined]: "true" }), "Failed")).toBe(
      "quarantined",
    );
    expect(hardwareState(server("a", { [LABEL.quarantined]: "true" }), undefined)).toBe("quarantined");
    // A claim whose pool is gone (finalizer force-removed) is shown as such, whatever the last phase was.
    const gone = (uid: string): boolean => uid !== "uid";
    expect(hardwareState(server("a", claimed), "Ready", gone)).toBe("orphaned-claim");
    expect(hardwareState(server("a", claimed), "Ready", () => true)).toBe("claimed");
    const discovered = { [LABEL.discovered]: "true" };
    expect(hardwareState(server("a", { ...discovered, [LABEL.approval]: "pending" }), undefined)).toBe(
      "discovered-pending",
    );
    expect(hardwareState(server("a", discovered), undefined)).toBe("unapproved");
    expect(hardwareState(server("a", { ...discovered, [LABEL.approved]: "true" }), undefined)).toBe(
      "free-eligible",
    );
  });
});

describe("fleetCounts", () => {
  it("counts per namespace, every state present, adding up to the namespace's Hardware", () => {
    const counts = fleetCounts(
      [
        server("a"),
        server("b", claimed),
        server("c", claimed),
        server("d", { [LABEL.quarantined]: "true" }),
        server("e", {}, { ns: "dc2" }),
      ],
      (hw) => (hw.metadata.name === "b" ? "Provisioning" : "Ready"),
    );
    expect([...counts.keys()].sort()).toEqual(["dc1", "dc2"]);
    const dc1 = counts.get("dc1");
    expect([...(dc1?.keys() ?? [])].sort()).toEqual([...hardwareStates].sort());
    expect(Object.fromEntries([...(dc1 ?? [])].filter(([, n]) => n > 0))).toEqual({
      "free-eligible": 1,
      provisioning: 1,
      claimed: 1,
      quarantined: 1,
    });
    expect([...(counts.get("dc2")?.values() ?? [])].reduce((a, b) => a + b, 0)).toBe(1);
  });
});
