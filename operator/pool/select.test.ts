import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { baremetalPoolSpecSchema } from "../../lib/api/baremetalpool.ts";
import type { Hardware } from "../../lib/api/tinkerbell.ts";
import {
  availabilityGaps,
  chooseHardware,
  isEligible,
  preferenceScore,
  provisionabilityGaps,
  requirementGaps,
} from "./select.ts";

const spec = (extra: Record<string, unknown> = {}) =>
  baremetalPoolSpecSchema.parse({
    replicas: 1,
    template: { osImageURL: "http://x/y.raw", kubeletVersion: "1.33.4" },
    ...extra,
  });

function hw(
  name: string,
  labels: Record<string, string> = {},
  extra: Partial<Hardware["spec"]> = {},
): Hardware {
  return {
    metadata: { name, namespace: "ns", labels },
    spec: {
      disks: [{ device: "/dev/sda" }],
      interfaces: [
        {
          dhcp: {
            mac: "52:54:00:00:00:01",
            arch: "x86_64",
            uefi: true,
            ip: { address: "10.0.0.5", netmask: "255.255.255.0" },
          },
        },
      ],
      ...extra,
    },
  };
}

describe("eligibility", () => {
  it("excludes claimed, quarantined, unapproved discovered and deleting servers, saying why", () => {
    expect(availabilityGaps(hw("a", { "metalpool.io/pool-uid": "u1", "metalpool.io/pool": "p" }))).toEqual([
      "claimed by pool p",
    ]);
    expect(availabilityGaps(hw("b", { "metalpool.io/quarantined": "true" }))).toEqual(["quarantined"]);
    expect(availabilityGaps(hw("c", { "metalpool.io/discovered": "true" }))).toEqual([
      "discovered but not approved",
    ]);
    expect(
      availabilityGaps(hw("d", { "metalpool.io/discovered": "true", "metalpool.io/approved": "true" })),
    ).toEqual([]);
  });

  it("refuses Hardware machine-controller's driver could not provision", () => {
    expect(provisionabilityGaps(hw("a", {}, { disks: [] }))).toEqual(["disks[0].device is missing"]);
    expect(provisionabilityGaps(hw("b", {}, { metadata: { state: "Decommissioned" } }))).toEqual([
      'metadata.state is "Decommissioned" (must be empty; a person clears Decommissioned)',
    ]);
    expect(provisionabilityGaps(hw("c", {}, { interfaces: [{ dhcp: { mac: "x" } }] }))).toEqual([
      "interfaces[0].dhcp.ip address/netmask are missing",
    ]);
  });

  it("matches requirements against inventory labels, and an unknown value never satisfies a minimum", () => {
    const req = {
      arch: "x86_64" as const,
      minCPUs: 16,
      minMemory: "64Gi",
      minDisks: 2,
      minDiskSize: "500G",
      uefi: true,
    };
    const big = hw("big", {
      "metalpool.io/cpus": "32",
      "metalpool.io/memory-gib": "128",
      "metalpool.io/disks": "2",
      "metalpool.io/disk-min-gib": "894",
    });
    expect(requirementGaps(big, req)).toEqual([]);
    expect(requirementGaps(hw("unknown"), req)).toEqual([
      "unknown CPUs, need 16",
      "unknown GiB memory, need 64Gi",
      "1 disks, need 2",
      "smallest disk unknown GiB, need 500G",
    ]);
    const arm = hw(
      "arm",
      {},
      {
        interfaces: [
          { dhcp: { mac: "m", arch: "aarch64", uefi: false, ip: { address: "a", netmask: "n" } } },
        ],
      },
    );
    expect(requirementGaps(arm, { arch: "x86_64", uefi: true })).toEqual([
      "arch is aarch64, need x86_64",
      "not UEFI",
    ]);
  });

  it("combines selector, availability, requirements and provisionability", () => {
    const s = spec({
      hardwareSelector: { matchExpressions: [{ key: "class", operator: "In", values: ["compute"] }] },
    });
    expect(isEligible(hw("a", { class: "compute" }), s)).toBe(true);
    expect(isEligible(hw("b", { class: "storage" }), s)).toBe(false);
    expect(isEligible(hw("c", { class: "compute", "metalpool.io/quarantined": "true" }), s)).toBe(false);
  });
});

describe("choosing hardware", () => {
  it("prefers higher preference weights, then spreads across failure domains, then goes by name", () => {
    const s = spec({
      spreadKey: "rack",
      preferences: [{ weight: 10, selector: { matchLabels: { gen: "new" } } }],
    });
    const candidates = [
      hw("a1", { rack: "a" }),
      hw("a2", { rack: "a" }),
      hw("a3", { rack: "a" }),
      hw("b1", { rack: "b" }),
      hw("c1", { rack: "c", gen: "new" }),
    ];
    expect(chooseHardware(candidates, [], s, 4).map((h) => h.metadata.name)).toEqual([
      "c1",
      "a1",
      "b1",
      "a2",
    ]);
  });

  it("counts existing members when spreading", () => {
    const s = spec({ spreadKey: "rack" });
    const members = [hw("m1", { rack: "a" }), hw("m2", { rack: "a" })];
    expect(
      chooseHardware([hw("a9", { rack: "a" }), hw("b9", { rack: "b" })], members, s, 1).map(
        (h) => h.metadata.name,
      ),
    ).toEqual(["b9"]);
  });

  it("returns fewer than asked when there are not enough, and is deterministic", () => {
    const s = spec();
    const c = [hw("z"), hw("y")];
    expect(chooseHardware(c, [], s, 5).map((h) => h.metadata.name)).toEqual(["y", "z"]);
    expect(chooseHardware([...c].reverse(), [], s, 5).map((h) => h.metadata.name)).toEqual(["y", "z"]);
  });
});

describe("choosing hardware, property-based", () => {
  /** The obvious greedy algorithm the fast one must agree with: re-sort everything at every pick. */
  function reference(
    candidates: Hardware[],
    members: Hardware[],
    s: ReturnType<typeof spec>,
    count: number,
  ): string[] {
    const domain = (h: Hardware): string => (s.spreadKey ? (h.metadata.labels?.[s.spreadKey] ?? "") : "");
    const used = new Map<string, number>();
    for (const m of members) used.set(domain(m), (used.get(domain(m)) ?? 0) + 1);
    const pool = [...candidates];
    const out: string[] = [];
    while (out.length < count && pool.length) {
      pool.sort(
        (a, b) =>
          preferenceScore(b, s) - preferenceScore(a, s) ||
          (used.get(domain(a)) ?? 0) - (used.get(domain(b)) ?? 0) ||
          (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""),
      );
      const next = pool.shift() as Hardware;
      out.push(next.metadata.name ?? "");
      used.set(domain(next), (used.get(domain(next)) ?? 0) + 1);
    }
    return out;
  }

  it("picks exactly what the naive greedy algorithm picks", () => {
    const server = fc.record({
      rack: fc.constantFrom("a", "b", "c", "d"),
      gen: fc.constantFrom("g1", "g2", "g3"),
    });
    fc.assert(
      fc.property(
        fc.array(server, { maxLength: 40 }),
        fc.array(server, { maxLength: 6 }),
        fc.integer({ min: 0, max: 45 }),
        (cs, ms, count) => {
          const s = spec({
            spreadKey: "rack",
            preferences: [
              { weight: 5, selector: { matchLabels: { gen: "g2" } } },
              { weight: 3, selector: { matchLabels: { gen: "g3" } } },
            ],
          });
          const candidates = cs.map((c, i) => hw(`c${i}`, c));
          const members = ms.map((m, i) => hw(`m${i}`, m));
          expect(chooseHardware(candidates, members, s, count).map((h) => h.metadata.name)).toEqual(
            reference(candidates, members, s, count),
          );
        },
      ),
    );
  });
});
