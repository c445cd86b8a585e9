/**
 * One DHCP packet in, at most one Hardware out. The path is: bytes → DHCP packet → PXE facts → known MAC?
 * → policy → flood limits → address → create. Each step that says no is counted with its reason.
 * Discovery never answers a client: it only listens next to the real DHCP server (smee).
 */
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import { HARDWARE, hardwareMacs, type Hardware } from "../lib/api/tinkerbell.ts";
import type { Informer } from "../lib/kube/informer.ts";
import { isAlreadyExists, type KubeClient } from "../lib/kube/rest.ts";
import type { Logger } from "../lib/log.ts";
import { parseDuration } from "../lib/api/quantity.ts";
import { DhcpDecodeError, decode } from "./dhcp/codec.ts";
import { discoveredHardware } from "./hardware.ts";
import { AddressPool } from "./ipam.ts";
import type { DiscoveryMetrics } from "./metrics.ts";
import { autoApproved, rejection, type Policy } from "./policy.ts";
import { clientFacts, type ClientFacts } from "./pxe.ts";

export type Outcome =
  | { result: "malformed"; reason: string }
  | { result: "ignored"; reason: string }
  | { result: "known"; hardware: string; refreshed: boolean }
  | { result: "rejected"; reason: string }
  | { result: "created"; hardware: string; address: string; approved: boolean }
  | { result: "exists"; hardware: string };

export interface DiscovererDeps {
  client: KubeClient;
  hardware: Informer<Hardware>;
  policy: Policy;
  metrics: DiscoveryMetrics;
  log: Logger;
  now?: () => number;
}

const indexKey = (hw: Hardware): string => `${hw.metadata.namespace}/${hw.metadata.name}`;

/** Hardware by MAC, kept from informer events: answering "known?" never costs an API call. */
export class MacIndex {
  private readonly byMac = new Map<string, Hardware>();
  private readonly macsOf = new Map<string, string[]>();

  constructor(informer: Informer<Hardware>) {
    const put = (hw: Hardware): void => this.put(hw);
    informer.on("add", put).on("update", put);
    informer.on("delete", (hw) => {
      for (const mac of this.macsOf.get(indexKey(hw)) ?? []) this.byMac.delete(mac);
      this.macsOf.delete(indexKey(hw));
    });
    for (const hw of informer.list()) put(hw);
  }

  /** Also called for Hardware we just created, so its MAC is known before the watch event arrives. */
  put(hw: Hardware): void {
    for (const mac of this.macsOf.get(indexKey(hw)) ?? []) this.byMac.delete(mac);
    const macs = hardwareMacs(hw);
    this.macsOf.set(indexKey(hw), macs);
    for (const mac of macs) this.byMac.set(mac, hw);
  }

  get(mac: string): Hardware | undefined {
    return this.byMac.get(mac.toLowerCase());
  }
}

export class Discoverer {
  private readonly d: DiscovererDeps;
  private readonly index: MacIndex;
  private readonly addresses: AddressPool;
  private readonly recent = new Map<string, number>();
  private readonly lastSeenWritten = new Map<string, number>();
  private creations: number[] = [];
  private readonly now: () => number;

  constructor(deps: DiscovererDeps) {
    this.d = deps;
    this.index = new MacIndex(deps.hardware);
    this.addresses = new AddressPool(deps.policy.addresses.range);
    this.now = deps.now ?? Date.now;
  }

  async handle(bytes: Uint8Array, from: string): Promise<Outcome> {
    const m = this.d.metrics;
    m.packets.inc();
    let facts: ClientFacts;
    try {
      const result = clientFacts(decode(bytes));
      m.parsed.inc();
      if (!result.ok) return { result: "ignored", reason: result.reasons.join("; ") };
      facts = result.facts;
    } catch (err) {
      if (!(err instanceof DhcpDecodeError)) throw err;
      m.malformed.inc();
      this.d.log.debug({ from, err: err.message }, "malformed packet");
      return { result: "malformed", reason: err.message };
    }
    const known = this.index.get(facts.mac);
    if (known) {
      this.d.log.debug({ mac: facts.mac, hardware: known.metadata.name }, "known client");
      return this.refreshLastSeen(known);
    }
    m.discoveries.inc();
    const why = this.whyNot(facts);
    if (why) return this.reject(why, facts);
    return this.create(facts);
  }

  /** Policy, retry de-duplication and flood caps, in that order; undefined when the client may be created. */
  private whyNot(facts: ClientFacts): string | undefined {
    const p = this.d.policy;
    const now = this.now();
    const window = parseDuration(p.limits.dedupeWindow);
    const last = this.recent.get(facts.mac);
    if (last !== undefined && now - last < window) return "duplicate";
    this.remember(facts.mac, now, window);
    const refused = rejection(p, facts);
    if (refused) return refused;
    const approved = autoApproved(p, facts);
    const pending = this.d.hardware
      .list()
      .filter((h) => h.metadata.labels?.[LABEL.approval] === "pending").length;
    if (!approved && pending >= p.limits.maxPending) return "pending-cap";
    this.creations = this.creations.filter((t) => now - t < 60_000);
    if (this.creations.length >= p.limits.creationsPerMinute) return "rate-limit";
    return undefined;
  }

  /** Notes a client as just handled; old entries go, so a flood of random MACs cannot grow the map forever. */
  private remember(mac: string, now: number, window: number): void {
    if (this.recent.size >= 10_000) {
      for (const [m, t] of this.recent) if (now - t >= window) this.recent.delete(m);
    }
    this.recent.set(mac, now);
  }

  private reject(reason: string, facts: ClientFacts): Outcome {
    this.d.metrics.rejections.inc({ reason });
    if (reason !== "duplicate")
      this.d.log.info({ mac: facts.mac, reason, relay: facts.relay }, "not creating Hardware");
    return { result: "rejected", reason };
  }

  private async create(facts: ClientFacts): Promise<Outcome> {
    const now = this.now();
    const address = this.addresses.allocate(this.d.hardware.list());
    if (!address) return this.reject("no-address", facts);
    const approved = autoApproved(this.d.policy, facts);
    const hw = discoveredHardware(facts, this.d.policy, address, approved, new Date(now));
    const name = hw.metadata.name ?? "";
    const end = this.d.metrics.apiSeconds.startTimer({ verb: "create" });
    try {
      const created = await this.d.client.create(HARDWARE, hw);
      end({ result: "ok" });
      this.creations.push(now);
      this.d.hardware.upsertLocal(created);
      this.index.put(created);
      this.d.metrics.created.inc({ approval: approved ? "approved" : "pending" });
      this.d.log.info(
        {
          mac: facts.mac,
          hardware: name,
          address,
          arch: facts.arch,
          uefi: facts.uefi,
          uuid: facts.uuid,
          approved,
        },
        "created Hardware",
      );
      return { result: "created", hardware: name, address, approved };
    } catch (err) {
      end({ result: "error" });
      if (isAlreadyExists(err)) return { result: "exists", hardware: name }; // another replica was first
      this.recent.delete(facts.mac); // let the client's next retry try again
      this.d.log.error(
        { mac: facts.mac, err: err instanceof Error ? err.message : String(err) },
        "creating Hardware failed",
      );
      return this.reject("api-error", facts);
    } finally {
      this.addresses.release(address);
    }
  }

  /**
   * Refreshes the last-seen annotation of a known client, at most once per interval, and only on unclaimed
   * Hardware: a pool's server that PXE-boots is being provisioned, and machine-controller creates a
   * duplicate Workflow when the Hardware changes under it.
   */
  private async refreshLastSeen(hw: Hardware): Promise<Outcome> {
    const name = hw.metadata.name ?? "";
    const key = `${hw.metadata.namespace}/${name}`;
    const now = this.now();
    const interval = parseDuration(this.d.policy.limits.lastSeenInterval);
    const previous = Math.max(
      this.lastSeenWritten.get(key) ?? 0,
      Date.parse(hw.metadata.annotations?.[ANNOTATION.lastSeen] ?? "") || 0,
    );
    if (hw.metadata.labels?.[LABEL.poolUID] || now - previous < interval)
      return { result: "known", hardware: name, refreshed: false };
    this.lastSeenWritten.set(key, now);
    const end = this.d.metrics.apiSeconds.startTimer({ verb: "patch" });
    try {
      const patch = { metadata: { annotations: { [ANNOTATION.lastSeen]: new Date(now).toISOString() } } };
      await this.d.client.patch(HARDWARE, hw.metadata.namespace, name, patch, "merge");
      end({ result: "ok" });
      return { result: "known", hardware: name, refreshed: true };
    } catch (err) {
      end({ result: "error" });
      this.d.log.warn(
        { hardware: name, err: err instanceof Error ? err.message : String(err) },
        "refreshing last-seen failed",
      );
      return { result: "known", hardware: name, refreshed: false };
    }
  }
}
