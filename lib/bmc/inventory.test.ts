import { describe, expect, it } from "vitest";
import type { Hardware } from "../api/tinkerbell.ts";
import type { Inventory } from "../redfish/inventory.ts";
import { inventoryPatch } from "./inventory.ts";

const GiB = 2 ** 30;
const now = new Date("2026-11-25T01:00:00Z");

function hw(disks?: { device?: string }[]): Hardware {
  return {
    metadata: { name: "n1", namespace: "dc", resourceVersion: "42" },
    spec: { ...(disks ? { disks } : {}) },
  };
}

const inv: Inventory = {
  systemId: "1",
  uuid: "38947555-7742-3448-3784-823347823834",
  manufacturer: "Contoso",
  model: "3500",
  serial: "437XR1138R2",
  cpus: 48,
  memoryBytes: 384 * GiB + 123,
  disks: [
    { name: "Bay 1", sizeBytes: 960 * GiB, rotational: false },
    { name: "Bay 2", sizeBytes: 480 * GiB },
  ],
  nics: [{ mac: "12:44:6a:3b:04:11", speedMbps: 25000 }],
};

describe("inventoryPatch", () => {
  it("writes the matching labels and the detail annotation", () => {
    const patch = inventoryPatch(hw(), inv, now) as {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    };
    expect(patch.metadata.labels).toEqual({
      "metalpool.io/cpus": "48",
      "metalpool.io/memory-gib": "384",
      "metalpool.io/disks": "2",
      "metalpool.io/disk-min-gib": "480",
    });
    expect(JSON.parse(patch.metadata.annotations["metalpool.io/inventory"] ?? "")).toEqual({
      ...inv,
      readAt: "2026-11-25T01:00:00.000Z",
    });
  });

  it("fills spec.disks of a Hardware without disks, guarded by the resourceVersion it read", () => {
    expect(inventoryPatch(hw([]), inv, now)).toMatchObject({
      metadata: { resourceVersion: "42" },
      spec: { disks: [{ device: "/dev/sda" }, { device: "/dev/sdb" }] },
    });
  });

  it("never touches disks a person set, and is always guarded by the resourceVersion it read", () => {
    const patch = inventoryPatch(hw([{ device: "/dev/nvme0n1" }]), inv, now);
    expect(patch).not.toHaveProperty("spec");
    expect(patch).toHaveProperty("metadata.resourceVersion", "42");
  });

  it("names the 27th disk as Linux does", () => {
    const many: Inventory = { ...inv, disks: Array.from({ length: 28 }, (_, i) => ({ name: `d${i}` })) };
    const devices = (inventoryPatch(hw(), many, now) as { spec: { disks: { device: string }[] } }).spec.disks;
    expect(devices.slice(24).map((d) => d.device)).toEqual([
      "/dev/sdy",
      "/dev/sdz",
      "/dev/sdaa",
      "/dev/sdab",
    ]);
  });

  it("leaves out labels for figures the BMC did not report", () => {
    const bare: Inventory = { systemId: "1", disks: [], nics: [] };
    expect((inventoryPatch(hw(), bare, now) as { metadata: { labels: object } }).metadata.labels).toEqual({
      "metalpool.io/disks": "0",
    });
  });
});
