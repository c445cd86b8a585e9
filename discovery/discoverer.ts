/**
 * One DHCP packet in, at most one Hardware out. The path is: bytes → DHCP packet → PXE facts → known MAC?
 * → admission (admit.ts: the way it came, retries, rate limits, pending cap) → address → create. Each step
 * that says no is counted with its reason. The caches admission reads are kept from informer events, so
 * the packet path costs O(1) however much Hardware there is.
 * Discovery never answers a client: it only listens next to the real DHCP server (smee).
 */
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import { HARDWARE, hardwareMacs, type Hardware } from "../lib/api/tinkerbell.ts";
import type { Informer } from "../lib/kube/informer.ts";
import { isAlreadyExists, type KubeClient } from "../lib/kube/rest.ts";
import type { Logger } from "../lib/log.ts";
import { parseDuration } from "../lib/api/quantity.ts";
import {
  admissionRules,
  admit,
  remembersClient,
  type AdmissionRules,
  type AdmissionState,
  type RejectReason,
} from "./admit.ts";
import { BoundedMap } from "./bounded-map.ts";
import { ConcurrencyLimit } from "./concurrency.ts";
import { DhcpDecodeError, decode } from "./dhcp/codec.ts";
import { discoveredHardware, hardwareKey, hardwareName, slimHardware } from "./hardware.ts";
import { hostOf } from "./ip.ts";
import { AddressPool } from "./ipam.ts";
import type { DiscoveryMetrics } from "./metrics.ts";
import { PendingTracker } from "./pending.ts";
import { deleteExpiredPending } from "./reaper.ts";
import type { Policy } from "./policy.ts";
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
  | { result: "rejected"; reason: RejectReason }
  | { result: "created"; hardware: string; address: string; approved: boolean }
  | { result: "exists"; hardware: string };

export interface DiscovererDeps {
  client: KubeClient;
  hardware: Informer<Hardware>;
  policy: Policy;
  metrics: DiscoveryMetrics;
  log: Logger;
  now?: () => number;
  /** API calls (creates, last-seen patches) at once; the rest wait in arrival order. */
  apiConcurrency?: number;
}

/**
 * API calls at once unless --api-concurrency says otherwise. A 1,000-client burst on 2 cores measured
 * p99 DISCOVER → Hardware 1.06–1.07 s at 16, 0.93–0.96 s at 32, 0.94 s at 64 (npm run bench:scale): past
 * 32 the API server is the limit, and more in flight only holds more memory.
 */
export const DEFAULT_API_CONCURRENCY = 32;

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
  private pendingInFlight = 0;
  private readonly d: DiscovererDeps;
  private readonly index = new MacIndex();
  private readonly addresses: AddressPool;
  private readonly pending: PendingTracker;
  /** MAC → when it was last handled, for the dedupe window; oldest first. */
  private readonly recent = new BoundedMap<string, number>(MAX_TRACKED_CLIENTS);
  private readonly lastSeenWritten = new BoundedMap<string, number>(MAX_TRACKED_CLIENTS);
  private readonly creations = new SlidingWindow(60_000);
  private readonly sources: SourceBuckets;
  private readonly rules: AdmissionRules;
  private readonly lastSeenMs: number;
  private readonly now: () => number;
  private readonly api: ConcurrencyLimit;

  constructor(deps: DiscovererDeps) {
    this.d = deps;
    this.now = deps.now ?? Date.now;
    this.api = new ConcurrencyLimit(deps.apiConcurrency ?? DEFAULT_API_CONCURRENCY);
    const limits = deps.policy.limits;
    this.addresses = new AddressPool(deps.policy.addresses.range);
    this.pending = new PendingTracker(parseDuration(limits.pendingExpiry));
    this.sources = new SourceBuckets(limits.perSource, MAX_TRACKED_SOURCES);
    this.rules = admissionRules(deps.policy);
    this.lastSeenMs = parseDuration(limits.lastSeenInterval);
    const observe = (hw: Hardware): void => this.observe(hw);
    deps.hardware.on("add", observe).on("update", observe);
    deps.hardware.on("delete", (hw) => this.forget(hw));
    for (const hw of deps.hardware.list()) this.observe(hw);
    deps.metrics.countPending(() => this.pending.active(this.now()));
    deps.metrics.pendingCap.set(deps.policy.limits.maxPending);
  }

  /** Every cache learns of a Hardware from the informer, or from our own write before its event arrives. */
  private observe(hw: Hardware): void {
    this.index.put(hw);
    this.addresses.put(hw);
    this.pending.put(hw, this.now());
  }

  private forget(hw: Hardware): void {
    this.index.remove(hw);
    this.addresses.remove(hw);
    this.pending.remove(hw);
  }

  /**
   * Deletes pending Hardware not seen within pendingExpiry, if the policy says so (each re-checked on a
   * fresh read first). Runs on a timer, never on the packet path.
   */
  async deleteExpiredPending(): Promise<number> {
    if (!this.d.policy.limits.deleteExpiredPending) return 0;
    const now = this.now();
    const deleted = await deleteExpiredPending(this.pending.expired(now), {
      client: this.d.client,
      now,
      expiryMs: this.pending.expiryMs,
      log: this.d.log,
    });
    for (const hw of deleted) this.forget(hw);
    this.d.metrics.pendingDeleted.inc(deleted.length);
    return deleted.length;
  }

  async handle(bytes: Uint8Array, from: string, receivedAt = performance.now()): Promise<Outcome> {
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
    const source = hostOf(from);
    const now = this.now();
    const decision = admit(
      { client: facts, source },
      this.admissionState(facts.mac, source, now),
      this.rules,
    );
    if (remembersClient(decision)) this.recent.set(facts.mac, now);
    if (decision.kind === "reject") return this.reject(decision.reason, facts, source);
    // The attempt is spent at the decision, so an API error is no way around the limits.
    this.creations.add(now);
    this.sources.take(source, now);
    // Creations still in flight count against the pending cap: packets are handled concurrently.
    if (!decision.approved) this.pendingInFlight += 1;
    try {
      const outcome = await this.create(facts, decision.approved, now);
      if (outcome.result === "created")
        this.d.metrics.discoverToHardware.observe((performance.now() - receivedAt) / 1000);
      return outcome;
    } finally {
      if (!decision.approved) this.pendingInFlight -= 1;
    }
  }

  /** What admission needs to know, read from the caches: each read is O(1) amortized. */
  private admissionState(mac: string, source: string, now: number): AdmissionState {
    this.recent.dropOldestWhile((t) => now - t >= this.rules.dedupeMs);
    return {
      now,
      lastHandledAt: this.recent.get(mac),
      sourceTokens: this.sources.available(source, now),
      creationsLastMinute: this.creations.count(now),
      pendingActive: this.pending.active(now) + this.pendingInFlight,
    };
  }

  private reject(reason: RejectReason, facts: ClientFacts, source?: string): Outcome {
    this.d.metrics.rejected(reason);
    if (reason !== "duplicate")
      this.d.log.info({ mac: facts.mac, reason, relay: facts.relay, source }, "not creating Hardware");
    return { result: "rejected", reason };
  }

  private async create(facts: ClientFacts, approved: boolean, now: number): Promise<Outcome> {
    const address = this.addresses.allocate();
    if (!address) return this.reject("no-address", facts);
    const name = hardwareName(facts.mac);
    let end: (labels: { result: string }) => void = () => undefined;
    try {
      // Admitted and given its address now; created when an API slot is free.
      const created = await this.api.run(() => {
        end = this.d.metrics.apiSeconds.startTimer({ verb: "create" });
        return this.d.client.create(
          HARDWARE,
          discoveredHardware(facts, this.d.policy, address, approved, new Date(now)),
        );
      });
      end({ result: "ok" });
      this.d.hardware.upsertLocal(created);
      this.observe(slimHardware(created));
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
    let end: (labels: { result: string }) => void = () => undefined;
    try {
      const patch = { metadata: { annotations: { [ANNOTATION.lastSeen]: new Date(now).toISOString() } } };
      const patched = await this.api.run(() => {
        end = this.d.metrics.apiSeconds.startTimer({ verb: "patch" });
        return this.d.client.patch<Hardware>(HARDWARE, hw.metadata.namespace, name, patch, "merge");
      });
      end({ result: "ok" });
      this.d.hardware.upsertLocal(patched);
      this.observe(slimHardware(patched));
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
