import { describe, expect, it } from "vitest";
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import { hardwareMacs, type Hardware } from "../lib/api/tinkerbell.ts";
import { AddressPool } from "./ipam.ts";
import { isPending, lastSeenOf } from "./pending.ts";
import { slimHardware } from "./hardware.ts";

const full: Hardware = {
  apiVersion: "tinkerbell.org/v1alpha1",
  kind: "Hardware",
  metadata: {
    name: "discovered-525400123456",
    namespace: "tink-system",
    uid: "u-1",
    resourceVersion: "42",
    generation: 3,
    creationTimestamp: "2026-12-01T10:00:00Z",
    labels: { [LABEL.discovered]: "true", [LABEL.approval]: "pending" },
    annotations: { [ANNOTATION.lastSeen]: "2026-12-01T11:00:00Z" },
  },
  spec: {
    disks: [{ device: "/dev/sda" }],
    userData: "x".repeat(10_000),
    metadata: { state: "", instance: { id: "i" } },
    interfaces: [
      {
        dhcp: {
          mac: "52:54:00:12:34:56",
          hostname: "h",
          ip: { address: "10.0.0.5", netmask: "255.255.255.0", gateway: "10.0.0.1" },
          name_servers: ["10.0.0.1"],
        },
        netboot: { allowPXE: false, allowWorkflow: false },
      },
      { netboot: { allowPXE: false } },
    ],
  },
};

describe("slimHardware", () => {
  it("keeps what discovery's caches read and drops the rest of the spec", () => {
    const slim = slimHardware(full);
    expect(hardwareMacs(slim)).toEqual(hardwareMacs(full));
    expect(isPending(slim)).toBe(true);
    expect(lastSeenOf(slim)).toBe(lastSeenOf(full));
    expect(slim.metadata).toEqual({
      name: full.metadata.name,
      namespace: full.metadata.namespace,
      uid: "u-1",
      resourceVersion: "42",
      creationTimestamp: full.metadata.creationTimestamp,
      labels: full.metadata.labels,
      annotations: full.metadata.annotations,
    });
    expect(slim.spec).toEqual({
      interfaces: [{ dhcp: { mac: "52:54:00:12:34:56", ip: { address: "10.0.0.5" } } }, { dhcp: {} }],
    });
    // The address pool sees the same used address in both forms.
    const pool = new AddressPool("10.0.0.5-10.0.0.6");
    pool.put(slim);
    expect(pool.allocate()).toBe("10.0.0.6");
  });
});
