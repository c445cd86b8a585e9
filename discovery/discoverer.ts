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
import { BoundedMap } from "./bounded-map.ts";
import { DhcpDecodeError, decode } from "./dhcp/codec.ts";
import { discoveredHardware, hardwareKey } from "./hardware.ts";
import { hostOf } from "./ip.ts";
import { AddressPool } from "./ipam.ts";
import type { DiscoveryMetrics } from "./metrics.ts";
import { PendingTracker } from "./pending.ts";
import { autoApproved, rejection, type Policy } from "./policy.ts";
import { clientFacts, type ClientFacts } from "./pxe.ts";
import { SlidingWindow, SourceBuckets } from "./rate.ts";

/** Clients remembered for de-duplication; past this the oldest are forgotten early. */
const MAX_TRACKED_CLIENTS = 10_000;
/** Source addresses with their own token bucket; past this the least recently active are forgotten. */
const MAX_TRACKED_SOURCES = 1_024;

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

/** Hardware by MAC, kept from informer events: answering "known?" never costs an API call. */
export class MacIndex {
  private readonly byMac = new Map<string, Hardware>();
  private readonly macsOf = new Map<string, string[]>();

  /** Also called for Hardware we just created, so its MAC is known before the watch event arrives. */
  put(hw: Hardware): void {
    this.remove(hw);
    const macs = hardwareMacs(hw);
    this.macsOf.set(hardwareKey(hw), macs);
    for (const mac of macs) this.byMac.set(mac, hw);
  }

  remove(hw: Hardware): void {
    for (const mac of this.macsOf.get(hardwareKey(hw)) ?? []) this.byMac.delete(mac);
    this.macsOf.delete(hardwareKey(hw));
  }

  get(mac: string): Hardware | undefined {
    return this.byMac.get(mac.toLowerCase());
  }
}

export class Discoverer {
  private readonly d: DiscovererDeps;
  private readonly index = new MacIndex();
  private readonly addresses: AddressPool;
  private readonly pending: PendingTracker;
  /** MAC → when it was last handled, for the dedupe window; oldest first. */
  private readonly recent = new BoundedMap<string, number>(MAX_TRACKED_CLIENTS);
  private readonly lastSeenWritten = new BoundedMap<string, number>(MAX_TRACKED_CLIENTS);
  private readonly creations = new SlidingWindow(60_000);
  private readonly sources: SourceBuckets;
  private readonly dedupeMs: number;
  private readonly lastSeenMs: number;
  private readonly now: () => number;

  constructor(deps: DiscovererDeps) {
    this.d = deps;
    this.now = deps.now ?? Date.now;
    const limits = deps.policy.limits;
    this.addresses = new AddressPool(deps.policy.addresses.range);
    this.pending = new PendingTracker(Number.POSITIVE_INFINITY);
    this.sources = new SourceBuckets(limits.perSource, MAX_TRACKED_SOURCES);
    this.dedupeMs = parseDuration(limits.dedupeWindow);
    this.lastSeenMs = parseDuration(limits.lastSeenInterval);
    const observe = (hw: Hardware): void => this.observe(hw);
    deps.hardware.on("add", observe).on("update", observe);
    deps.hardware.on("delete", (hw) => {
      this.index.remove(hw);
      this.addresses.remove(hw);
      this.pending.remove(hw);
    });
    for (const hw of deps.hardware.list()) this.observe(hw);
  }

  /** Every cache learns of a Hardware from the informer, or from our own write before its event arrives. */
  private observe(hw: Hardware): void {
    this.index.put(hw);
    this.addresses.put(hw);
    this.pending.put(hw, this.now());
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
    const why = this.whyNot(facts, hostOf(from));
    if (why) return this.reject(why, facts);
    return this.create(facts, hostOf(from));
  }

  /** Policy, retry de-duplication and flood caps, in that order; undefined when the client may be created. */
  private whyNot(facts: ClientFacts, source: string): string | undefined {
    const p = this.d.policy;
    const now = this.now();
    this.recent.dropOldestWhile((t) => now - t >= this.dedupeMs);
    const last = this.recent.get(facts.mac);
    if (last !== undefined && now - last < this.dedupeMs) return "duplicate";
    this.recent.set(facts.mac, now);
    const refused = rejection(p, facts);
    if (refused) return refused;
    const approved = autoApproved(p, facts);
    if (!approved && this.pending.active(now) >= p.limits.maxPending) return "pending-cap";
    if (this.sources.available(source, now) < 1) return "source-rate-limit";
    if (this.creations.count(now) >= p.limits.creationsPerMinute) return "rate-limit";
    return undefined;
  }

  private reject(reason: string, facts: ClientFacts): Outcome {
    this.d.metrics.rejections.inc({ reason });
    if (reason !== "duplicate")
      this.d.log.info({ mac: facts.mac, reason, relay: facts.relay }, "not creating Hardware");
    return { result: "rejected", reason };
  }

  private async create(facts: ClientFacts, source: string): Promise<Outcome> {
    const now = this.now();
    const address = this.addresses.allocate();
    if (!address) return this.reject("no-address", facts);
    const approved = autoApproved(this.d.policy, facts);
    const hw = discoveredHardware(facts, this.d.policy, address, approved, new Date(now));
    const name = hw.metadata.name ?? "";
    const end = this.d.metrics.apiSeconds.startTimer({ verb: "create" });
    try {
      const created = await this.d.client.create(HARDWARE, hw);
      end({ result: "ok" });
      this.creations.add(now);
      this.sources.take(source, now);
      this.d.hardware.upsertLocal(created);
      this.observe(created);
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
    const key = hardwareKey(hw);
    const now = this.now();
    const interval = this.lastSeenMs;
    this.lastSeenWritten.dropOldestWhile((t) => now - t >= interval);
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
      const patched = await this.d.client.patch<Hardware>(
        HARDWARE,
        hw.metadata.namespace,
        name,
        patch,
        "merge",
      );
      end({ result: "ok" });
      this.d.hardware.upsertLocal(patched);
      this.observe(patched);
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
