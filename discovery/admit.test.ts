import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  REJECT_REASONS,
  admissionRules,
  admit,
  autoApproved,
  remembersClient,
  type AdmissionState,
  type Arrival,
  type Decision,
} from "./admit.ts";
import { loadPolicy } from "./policy.ts";
import type { ClientFacts } from "./pxe.ts";

const T0 = Date.parse("2026-11-24T12:00:00Z");
const addresses = { range: "10.0.0.10-10.0.0.12", netmask: "255.255.255.0" };

const client = (extra: Partial<ClientFacts> = {}): ClientFacts => ({
  mac: "52:54:00:aa:bb:cc",
  xid: 1,
  hops: 0,
  messageType: "DISCOVER",
  archCode: 7,
  arch: "x86_64",
  uefi: true,
  vendorClass: "PXEClient:Arch:00007:UNDI:003000",
  userClasses: [],
  ...extra,
});
const direct = (extra: Partial<ClientFacts> = {}): Arrival => ({ client: client(extra), source: "0.0.0.0" });
const relayed = (giaddr: string, source: string, extra: Partial<ClientFacts> = {}): Arrival => ({
  client: client({ relay: giaddr, ...extra }),
  source,
});
const room: AdmissionState = {
  now: T0,
  lastHandledAt: undefined,
  sourceTokens: 5,
  creationsLastMinute: 0,
  pendingActive: 0,
};

const rules = admissionRules(
  loadPolicy(undefined, {
    addresses,
    acceptRelays: ["10.20.0.0/16", { subnet: "10.30.0.0/16", sources: ["192.168.0.1", "172.16.0.0/30"] }],
    autoApprove: [
      { macPrefix: "52:54:00:AA" },
      { vendorClassPrefix: "PXEClient:Arch:00011", subnet: "10.20.9.0/24" },
    ],
    limits: { dedupeWindow: "30s", creationsPerMinute: 10, maxPending: 3 },
  }),
);

describe("admission, case by case", () => {
  const cases: [string, Arrival, Partial<AdmissionState>, Decision][] = [
    ["a direct request with room everywhere", direct(), {}, { kind: "create", approved: true }],
    [
      "an unapproved direct request under the pending cap",
      direct({ mac: "00:11:22:33:44:55" }),
      { pendingActive: 2 },
      { kind: "create", approved: false },
    ],
    [
      "an unapproved request at the pending cap",
      direct({ mac: "00:11:22:33:44:55" }),
      { pendingActive: 3 },
      { kind: "reject", reason: "pending-cap" },
    ],
    [
      "an approved request at the pending cap: approval does not wait for people",
      direct(),
      { pendingActive: 3 },
      { kind: "create", approved: true },
    ],
    [
      "a relayed request through a listed relay",
      relayed("10.20.5.1", "10.20.5.1"),
      {},
      { kind: "create", approved: true },
    ],
    [
      "a relayed request whose giaddr is in no listed subnet",
      relayed("10.40.0.1", "10.40.0.1"),
      {},
      { kind: "reject", reason: "relay-not-allowed" },
    ],
    [
      "a request posing as a listed relay, sent from elsewhere",
      relayed("10.20.5.1", "192.168.7.7"),
      {},
      { kind: "reject", reason: "relay-source-mismatch" },
    ],
    [
      "a relay sending from another address of its own entry",
      relayed("10.20.5.1", "10.20.255.1"),
      {},
      { kind: "create", approved: true },
    ],
    [
      "a relay sending from an address its entry lists",
      relayed("10.30.1.1", "172.16.0.3"),
      {},
      { kind: "create", approved: true },
    ],
    [
      "a relay with listed sources, sending from its own subnet instead",
      relayed("10.30.1.1", "10.30.1.1"),
      {},
      { kind: "reject", reason: "relay-source-mismatch" },
    ],
    [
      "a relay's source in another entry does not vouch for this giaddr",
      relayed("10.30.1.1", "10.20.0.1"),
      {},
      { kind: "reject", reason: "relay-source-mismatch" },
    ],
    [
      "a relayed request from an unparseable source",
      relayed("10.20.5.1", "somewhere"),
      {},
      { kind: "reject", reason: "relay-source-mismatch" },
    ],
    [
      "a direct request that claims hops without naming a relay",
      direct({ hops: 1 }),
      {},
      { kind: "reject", reason: "direct-with-hops" },
    ],
    [
      "a path rejection comes before everything else",
      relayed("10.20.5.1", "10.99.0.1"),
      { lastHandledAt: T0, sourceTokens: 0, creationsLastMinute: 99, pendingActive: 99 },
      { kind: "reject", reason: "relay-source-mismatch" },
    ],
    [
      "a retry within the dedupe window",
      direct(),
      { lastHandledAt: T0 - 29_999 },
      { kind: "reject", reason: "duplicate" },
    ],
    [
      "a retry just past the dedupe window",
      direct(),
      { lastHandledAt: T0 - 30_000 },
      { kind: "create", approved: true },
    ],
    [
      "a source with less than one token",
      direct(),
      { sourceTokens: 0.99 },
      { kind: "reject", reason: "source-rate-limit" },
    ],
    [
      "the global rate reached",
      direct(),
      { creationsLastMinute: 10 },
      { kind: "reject", reason: "rate-limit" },
    ],
    [
      "approval by vendor class and relay subnet together",
      relayed("10.20.9.1", "10.20.9.1", {
        mac: "00:00:00:00:00:01",
        vendorClass: "PXEClient:Arch:00011:UNDI:003000",
      }),
      {},
      { kind: "create", approved: true },
    ],
    [
      "the vendor class alone, without the relay subnet, does not approve",
      direct({ mac: "00:00:00:00:00:01", vendorClass: "PXEClient:Arch:00011:UNDI:003000" }),
      {},
      { kind: "create", approved: false },
    ],
    [
      "the first failing check names the reason: duplicate before rate limits",
      direct(),
      { lastHandledAt: T0, sourceTokens: 0, creationsLastMinute: 99 },
      { kind: "reject", reason: "duplicate" },
    ],
    [
      "the per-source limit before the global one",
      direct({ mac: "00:11:22:33:44:55" }),
      { sourceTokens: 0, creationsLastMinute: 99, pendingActive: 99 },
      { kind: "reject", reason: "source-rate-limit" },
    ],
    [
      "the global limit before the pending cap",
      direct({ mac: "00:11:22:33:44:55" }),
      { creationsLastMinute: 99, pendingActive: 99 },
      { kind: "reject", reason: "rate-limit" },
    ],
  ];
  it.each(cases)("%s", (_, arrival, state, decision) => {
    expect(admit(arrival, { ...room, ...state }, rules)).toEqual(decision);
  });

  it("refuses direct requests when the policy does", () => {
    const noDirect = admissionRules(loadPolicy(undefined, { addresses, acceptDirect: false }));
    expect(admit(direct(), room, noDirect)).toEqual({ kind: "reject", reason: "direct-not-allowed" });
  });

  it("refuses every relay when none is listed", () => {
    const none = admissionRules(loadPolicy(undefined, { addresses }));
    expect(admit(relayed("10.20.5.1", "10.20.5.1"), room, none)).toEqual({
      kind: "reject",
      reason: "relay-not-allowed",
    });
  });

  it("matches MAC prefixes case-insensitively and needs every condition of a rule", () => {
    expect(autoApproved(rules, client({ mac: "52:54:00:aa:00:01" }))).toBe(true);
    expect(autoApproved(rules, client({ mac: "52:54:00:bb:00:01" }))).toBe(false);
  });

  it("remembers a client after any decision but path rejections and duplicates", () => {
    expect(remembersClient({ kind: "create", approved: false })).toBe(true);
    const remembered = REJECT_REASONS.filter((reason) => remembersClient({ kind: "reject", reason }));
    expect(remembered).toEqual([
      "source-rate-limit",
      "rate-limit",
      "pending-cap",
      "no-address",
      "api-error",
      "queue-full",
    ]);
  });
});

const mac = fc
  .array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 })
  .map((b) => b.map((x) => x.toString(16).padStart(2, "0")).join(":"));
// Few prefixes and small octets, so listed relays, listed sources and near misses all come up often.
const ip = fc
  .tuple(fc.constantFrom("10.20", "10.30", "10.99", "192.168", "172.16"), fc.nat(2), fc.nat(5))
  .map((p) => p.join("."));
const arrival: fc.Arbitrary<Arrival> = fc.record({
  client: fc
    .record({ mac, relay: fc.option(ip, { nil: undefined }), hops: fc.nat(3) })
    .map(({ mac: m, relay, hops }) => client({ mac: m, hops, ...(relay === undefined ? {} : { relay }) })),
  source: fc.oneof(ip, fc.constant("0.0.0.0")),
});
/** The rules' relay entries, written out by hand: 10.20/16 from itself; 10.30/16 from two listed sources. */
const cameRightWay = (a: Arrival): boolean => {
  const { relay, hops } = a.client;
  if (relay === undefined) return hops === 0;
  if (relay.startsWith("10.20.")) return a.source.startsWith("10.20.");
  if (relay.startsWith("10.30.")) return a.source === "192.168.0.1" || /^172\.16\.0\.[0-3]$/.test(a.source);
  return false;
};
const state: fc.Arbitrary<AdmissionState> = fc.record({
  now: fc.constant(T0),
  lastHandledAt: fc.option(fc.integer({ min: T0 - 120_000, max: T0 }), { nil: undefined }),
  sourceTokens: fc.double({ min: 0, max: 20, noNaN: true }),
  creationsLastMinute: fc.nat(20),
  pendingActive: fc.nat(6),
});

describe("admission, by property", () => {
  it("creates only when every check has room", () => {
    fc.assert(
      fc.property(arrival, state, (a, s) => {
        const d = admit(a, s, rules);
        if (d.kind === "reject") return;
        expect(cameRightWay(a)).toBe(true);
        expect(s.lastHandledAt === undefined || s.now - s.lastHandledAt >= 30_000).toBe(true);
        expect(s.sourceTokens).toBeGreaterThanOrEqual(1);
        expect(s.creationsLastMinute).toBeLessThan(10);
        expect(d.approved || s.pendingActive < 3).toBe(true);
        expect(d.approved).toBe(autoApproved(rules, a.client));
      }),
    );
  });

  it("never turns a creation into a rejection when there is more room", () => {
    fc.assert(
      fc.property(arrival, state, state, (a, s, other) => {
        const roomier: AdmissionState = {
          now: s.now,
          lastHandledAt:
            s.lastHandledAt === undefined || other.lastHandledAt === undefined
              ? undefined
              : Math.min(s.lastHandledAt, other.lastHandledAt),
          sourceTokens: Math.max(s.sourceTokens, other.sourceTokens),
          creationsLastMinute: Math.min(s.creationsLastMinute, other.creationsLastMinute),
          pendingActive: Math.min(s.pendingActive, other.pendingActive),
        };
        if (admit(a, s, rules).kind === "create") expect(admit(a, roomier, rules).kind).toBe("create");
      }),
    );
  });

  it("rejects a request that came the wrong way whatever the state, with a path reason", () => {
    fc.assert(
      fc.property(arrival, state, (a, s) => {
        const d = admit(a, s, rules);
        if (!cameRightWay(a)) {
          expect(d.kind).toBe("reject");
          expect(["relay-not-allowed", "relay-source-mismatch", "direct-with-hops"]).toContain(
            d.kind === "reject" && d.reason,
          );
        }
      }),
    );
  });
});
