import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPolicy } from "./policy.ts";

const addresses = { range: "10.0.0.10-10.0.0.12", netmask: "255.255.255.0" };
describe("the discovery policy", () => {
  it("fills defaults", () => {
    const p = loadPolicy(undefined, { addresses });
    expect(p).toMatchObject({
      namespace: "tink-system",
      acceptDirect: true,
      acceptRelays: [],
      autoApprove: [],
      hardware: { ifaceName: "eth0", disks: ["/dev/sda"], allowPXE: false, allowWorkflow: false },
      limits: {
        dedupeWindow: "30s",
        creationsPerMinute: 30,
        maxPending: 100,
        lastSeenInterval: "10m",
        pendingExpiry: "1h",
        deleteExpiredPending: false,
        perSource: { creationsPerMinute: 20, burst: 20 },
      },
    });
  });

  it("names every bad field in one message", () => {
    expect(() =>
      loadPolicy(undefined, {
        addresses: { range: "10.0.0.9-10.0.0.1", netmask: "x" },
        autoApprove: [{}],
        limits: { dedupeWindow: "soon" },
      }),
    ).toThrow(
      "invalid discovery policy: autoApprove.0: a rule needs macPrefix, vendorClassPrefix or subnet; addresses.range: ends before it starts; addresses.netmask: must be an IPv4 address; limits.dedupeWindow: must be a duration such as 30s or 10m",
    );
    expect(() => loadPolicy(undefined, {})).toThrow(
      "invalid discovery policy: addresses: Invalid input: expected object, received undefined",
    );
  });

  it("reads YAML files and says which file is broken", () => {
    const dir = mkdtempSync(join(tmpdir(), "policy-"));
    try {
      writeFileSync(
        join(dir, "ok.yaml"),
        "namespace: metal\naddresses: {range: 10.0.0.1-10.0.0.9, netmask: 255.255.255.0}\n",
      );
      expect(loadPolicy(join(dir, "ok.yaml")).namespace).toBe("metal");
      // A flag overrides one address field and keeps the file's others.
      writeFileSync(
        join(dir, "gw.yaml"),
        "addresses: {range: 10.0.0.1-10.0.0.9, netmask: 255.255.255.0, gateway: 10.0.0.254}\n",
      );
      expect(
        loadPolicy(join(dir, "gw.yaml"), { addresses: { range: "10.0.0.20-10.0.0.29" } }).addresses,
      ).toEqual({
        range: "10.0.0.20-10.0.0.29",
        netmask: "255.255.255.0",
        gateway: "10.0.0.254",
        nameServers: [],
      });
      // Flags alone can supply what the file lacks.
      writeFileSync(join(dir, "noaddr.yaml"), "namespace: metal\n");
      expect(
        loadPolicy(join(dir, "noaddr.yaml"), {
          addresses: { range: "10.0.0.1-10.0.0.2", netmask: "255.0.0.0" },
        }).namespace,
      ).toBe("metal");
      writeFileSync(join(dir, "bad.yaml"), "namespace: [unclosed\n");
      expect(() => loadPolicy(join(dir, "bad.yaml"))).toThrow(`policy file ${join(dir, "bad.yaml")}:`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes relays as plain CIDRs or with their source addresses, and names a bad entry", () => {
    const p = loadPolicy(undefined, {
      addresses,
      acceptRelays: ["10.20.0.0/16", { subnet: "10.30.0.0/24", sources: ["192.168.0.1", "172.16.0.0/30"] }],
    });
    expect(p.acceptRelays).toEqual([
      "10.20.0.0/16",
      { subnet: "10.30.0.0/24", sources: ["192.168.0.1", "172.16.0.0/30"] },
    ]);
    const bad =
      (acceptRelays: unknown[]): (() => unknown) =>
      () =>
        loadPolicy(undefined, { addresses, acceptRelays });
    expect(bad(["10.0.0.0/33"])).toThrow("acceptRelays.0: must be an IPv4 CIDR such as 10.0.0.0/24");
    expect(bad(["10.0.0.1"])).toThrow("acceptRelays.0: must be an IPv4 CIDR such as 10.0.0.0/24");
    expect(bad([{ subnet: "10.0.0.0/8", sources: ["x"] }])).toThrow(
      "acceptRelays.0.sources.0: must be an IPv4 address or CIDR",
    );
    expect(bad([{ sources: ["10.0.0.1"] }])).toThrow(
      "acceptRelays.0: must be a CIDR such as 10.20.0.0/16, or {subnet: CIDR, sources: [addresses or CIDRs]}",
    );
  });

  it("refuses a pending expiry a booting server could outlive between two sightings", () => {
    expect(() =>
      loadPolicy(undefined, { addresses, limits: { pendingExpiry: "5m", lastSeenInterval: "10m" } }),
    ).toThrow("limits.pendingExpiry: must be longer than lastSeenInterval");
    expect(
      loadPolicy(undefined, { addresses, limits: { pendingExpiry: "3s", lastSeenInterval: "1s" } }).limits,
    ).toMatchObject({ pendingExpiry: "3s", lastSeenInterval: "1s", deleteExpiredPending: false });
  });
});
