/**
 * The operator's metrics. Labels are a closed, small set (namespace, pool, phase, state, reason, operation,
 * result): never a server, MAC, Workflow or Hardware name, so a fleet of thousands stays a few hundred
 * series. Provisioning metrics come from what each pool pass reports (member-transitions.ts turns the
 * change since the last pass into events); the fleet gauge is computed from the Hardware cache at scrape.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { memberPhases, type MemberPhase } from "../lib/api/baremetalpool.ts";
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import type { Hardware } from "../lib/api/tinkerbell.ts";
import { registerStandardMetrics } from "../lib/metrics.ts";
import { fleetCounts } from "./fleet.ts";
import {
  failureReasons,
  memberTransitions,
  recalled,
  timedPhases,
  type MemberEvent,
  type MemberMemory,
} from "./member-transitions.ts";
import { bmcOperations, type BmcOperation, type BmcResult } from "./provision/bmc-requests.ts";
import type { ObservedPass } from "./pool/types.ts";
import { POOL_EVENT_REASONS } from "./pool/deps.ts";

const MINUTE = 60;
const BMC_RESULTS: readonly BmcResult[] = [
  "success",
  "pending",
  "failed",
  "unreachable",
  "timeout",
  "unauthorized",
  "tls",
  "server",
  "client",
  "protocol",
  "unsupported",
  "config",
  "error",
];

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: "metalpool_reconcile_total",
    help: "Pool reconciles by result (success, error).",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: "metalpool_reconcile_duration_seconds",
    help: "Time one pool reconcile took.",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly members = new Gauge({
    name: "metalpool_pool_members",
    help: "Pool members by phase.",
    labelNames: ["namespace", "pool", "phase"],
    registers: [this.registry],
  });
  readonly desired = new Gauge({
    name: "metalpool_pool_desired_replicas",
    help: "spec.replicas of each pool.",
    labelNames: ["namespace", "pool"],
    registers: [this.registry],
  });
  readonly shortage = new Gauge({
    name: "metalpool_pool_shortage",
    help: "Servers a pool wants and could not claim (0 while paused or deleting).",
    labelNames: ["namespace", "pool"],
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: "metalpool_pool_events_total",
    help: "Claims, releases, failures and quarantines.",
    labelNames: ["namespace", "pool", "reason"],
    registers: [this.registry],
  });
  readonly claimToReady = new Histogram({
    name: "metalpool_provisioning_duration_seconds",
    help: "From claiming a server to its member being Ready, retries included.",
    labelNames: ["namespace", "pool"],
    buckets: [2, 4, 8, 15, 30, 60, 120, 180, 300, 450, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800],
    registers: [this.registry],
  });
  readonly phaseSeconds = new Histogram({
    name: "metalpool_member_phase_duration_seconds",
    help: "Time a member spent in a phase, observed when it leaves it (Provisioning: per attempt).",
    labelNames: ["namespace", "pool", "phase"],
    buckets: [
      1,
      5,
      15,
      30,
      MINUTE,
      2 * MINUTE,
      5 * MINUTE,
      10 * MINUTE,
      15 * MINUTE,
      30 * MINUTE,
      3600,
      7200,
    ],
    registers: [this.registry],
  });
  readonly attempts = new Counter({
    name: "metalpool_provisioning_attempts_total",
    help: "Provisioning attempts that ended, by result (success, failure) and failure reason (none on success).",
    labelNames: ["namespace", "pool", "result", "reason"],
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: "metalpool_provisioning_retries_total",
    help: "Retried attempts (2nd and later) that ended, by result (success, failure).",
    labelNames: ["namespace", "pool", "result"],
    registers: [this.registry],
  });
  readonly quarantines = new Counter({
    name: "metalpool_quarantines_total",
    help: "Servers a pool took out of service, by reason (attempts-exhausted, wipe-failed).",
    labelNames: ["namespace", "pool", "reason"],
    registers: [this.registry],
  });
  readonly releases = new Counter({
    name: "metalpool_releases_total",
    help: "Servers handed back, by result (success; failure: its power-off never succeeded).",
    labelNames: ["namespace", "pool", "result"],
    registers: [this.registry],
  });
  readonly wipes = new Counter({
    name: "metalpool_wipes_total",
    help: "Disk wipes of leaving servers that ended, by result (success; failure quarantines the server).",
    labelNames: ["namespace", "pool", "result"],
    registers: [this.registry],
  });
  readonly bmcRequests = new Counter({
    name: "metalpool_bmc_requests_total",
    help: "Requests to BMCs (directly over Redfish, or as rufio Jobs) by operation and result.",
    labelNames: ["operation", "result"],
    registers: [this.registry],
  });
  readonly bmcSeconds = new Histogram({
    name: "metalpool_bmc_request_duration_seconds",
    help: "Time one BMC request took, retries within it included.",
    labelNames: ["operation", "result"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "metalpool_leader",
    help: "1 while this instance holds the leader Lease.",
    registers: [this.registry],
  });
  /**
   * Labelled by the Lease's name so that no sample exists before the Lease is first seen: an unlabelled
   * gauge starts at 0, and a replica starting beside a Lease that changed hands N times would jump 0 → N,
   * which the leader-changes panel and MetalpoolLeaderFlapping read as N changes within the hour.
   */
  readonly leaseTransitions = new Gauge({
    name: "metalpool_leader_lease_transitions",
    help: "The leader Lease's leaseTransitions as this instance last saw it (every replica watches it).",
    labelNames: ["lease"] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "metalpool_workqueue_depth",
    help: "Pools waiting to be reconciled.",
    registers: [this.registry],
  });

  /** Per pool (namespace/name), per member Hardware name: what the last pass made of it. */
  private readonly memory = new Map<string, Map<string, MemberMemory>>();
  /** Where the fleet gauge gets its Hardware; undefined (not leading) exports no fleet series. */
  private fleetSource: (() => Iterable<Hardware> | undefined) | undefined;
  /** Whether a pool UID names a live pool, for the fleet gauge's orphaned claims. */
  private poolExists: ((uid: string) => boolean) | undefined;
  /** Reports how long requests waited for the client-side request limit (--kube-api-qps). */
  watchRequestLimit(bucket: { waitedSeconds: number }): void {
    let reported = 0;
    new Counter({
      name: "metalpool_kube_client_throttled_seconds_total",
      help: "Time API requests waited for the client-side limit (--kube-api-qps/--kube-api-burst).",
      registers: [this.registry],
      collect() {
        this.inc(bucket.waitedSeconds - reported);
        reported = bucket.waitedSeconds;
      },
    });
  }

  constructor() {
    registerStandardMetrics(this.registry);
    for (const operation of bmcOperations) {
      for (const result of BMC_RESULTS) this.bmcRequests.inc({ operation, result }, 0);
      // The times of requests that went through (done, or a rufio Job made) from 0 too, so rate() sees
      // the first (BMC requests are few); every result would be 13 × 14 series per operation, and failures
      // are counted from 0 above.
      for (const result of ["success", "pending"] as const) this.bmcSeconds.zero({ operation, result });
    }
    const memberPhase = (hw: Hardware): MemberPhase | undefined => this.memberPhase(hw);
    const source = (): Iterable<Hardware> | undefined => this.fleetSource?.();
    const poolExists = (uid: string): boolean => this.poolExists?.(uid) ?? true;
    new Gauge({
      name: "metalpool_hardware",
      help: "Hardware by state, per namespace (exported by the leader; states add up to the namespace's Hardware).",
      labelNames: ["namespace", "state"],
      registers: [this.registry],
      collect() {
        this.reset();
        const hardware = source();
        if (!hardware) return;
        for (const [namespace, states] of fleetCounts(hardware, memberPhase, poolExists))
          for (const [state, n] of states) this.set({ namespace, state }, n);
      },
    });
  }

  /** The Hardware the fleet gauge counts, asked at every scrape; undefined while not leading. */
  watchFleet(source: () => Iterable<Hardware> | undefined, poolExists?: (uid: string) => boolean): void {
    this.fleetSource = source;
    this.poolExists = poolExists;
  }

  observeBmc(operation: BmcOperation, result: BmcResult, seconds: number): void {
    this.bmcRequests.inc({ operation, result });
    this.bmcSeconds.observe({ operation, result }, seconds);
  }

  /** One pool pass: its gauges, and what became of each member since the last pass, as counters. */
  observePool(pass: ObservedPass): void {
    const { pool } = pass;
    const ns = pool.metadata.namespace ?? "";
    const name = pool.metadata.name ?? "";
    this.setPoolGauges(pass, { namespace: ns, pool: name });
    const key = `${ns}/${name}`;
    const known = this.memory.get(key) ?? this.startPool(ns, name);
    this.memory.set(key, known);
    const now = pass.now.getTime();
    const recorded = new Map((pool.status?.members ?? []).map((m) => [m.hardware, m]));
    const ctx = { now, manualPower: pool.spec.provisioning.power === "Manual" };
    const seen = new Set<string>();
    for (const m of pass.members) {
      const hw = m.view.hw.metadata.name ?? "";
      seen.add(hw);
      const { events, next } = memberTransitions(known.get(hw) ?? recalled(recorded.get(hw), m, now), m, ctx);
      for (const e of events) this.count(ns, name, e);
      if (next) known.set(hw, next);
      else known.delete(hw);
    }
    // Members gone without this operator seeing them leave (claim removed by hand, Hardware deleted).
    for (const hw of known.keys()) if (!seen.has(hw)) known.delete(hw);
  }

  /** Members by phase and the shortage as the status will show them: without those that left this pass. */
  private setPoolGauges(pass: ObservedPass, l: { namespace: string; pool: string }): void {
    const { pool } = pass;
    const remaining = pass.members.filter((m) => !m.left);
    this.desired.set(l, pool.spec.replicas);
    for (const phase of memberPhases)
      this.members.set({ ...l, phase }, remaining.filter((m) => m.phase === phase).length);
    const active = remaining.filter((m) => !m.view.releasing).length + pass.claimed;
    const wanting = !pool.spec.paused && !pool.metadata.deletionTimestamp;
    this.shortage.set(l, wanting ? Math.max(0, pool.spec.replicas - active) : 0);
  }

  forgetPool(namespace: string, name: string): void {
    this.memory.delete(`${namespace}/${name}`);
    this.desired.remove({ namespace, pool: name });
    this.shortage.remove({ namespace, pool: name });
    for (const phase of memberPhases) this.members.remove({ namespace, pool: name, phase });
  }

  /** The member phase of a claimed Hardware as its pool's last pass left it. */
  private memberPhase(hw: Hardware): MemberPhase | undefined {
    const namespace = hw.metadata.annotations?.[ANNOTATION.poolNamespace] ?? hw.metadata.namespace;
    const pool = hw.metadata.labels?.[LABEL.pool] ?? "";
    return this.memory.get(`${namespace}/${pool}`)?.get(hw.metadata.name ?? "")?.phase;
  }

  /** A pool's counters and histograms start at 0, so the first observation is an increase (rate() and alerts see it). */
  private startPool(namespace: string, pool: string): Map<string, MemberMemory> {
    const l = { namespace, pool };
    this.attempts.inc({ ...l, result: "success", reason: "none" }, 0);
    for (const reason of failureReasons) this.attempts.inc({ ...l, result: "failure", reason }, 0);
    for (const result of ["success", "failure"]) {
      this.retries.inc({ ...l, result }, 0);
      this.releases.inc({ ...l, result }, 0);
      this.wipes.inc({ ...l, result }, 0);
    }
    for (const reason of ["attempts-exhausted", "wipe-failed"]) this.quarantines.inc({ ...l, reason }, 0);
    for (const reason of POOL_EVENT_REASONS) this.events.inc({ ...l, reason }, 0);
    this.claimToReady.zero(l);
    for (const phase of timedPhases) this.phaseSeconds.zero({ ...l, phase });
    return new Map();
  }

  private count(namespace: string, pool: string, e: MemberEvent): void {
    const l = { namespace, pool };
    switch (e.kind) {
      case "attempt":
        this.attempts.inc({ ...l, result: e.result, reason: e.result === "failure" ? e.reason : "none" });
        if (e.attempt > 1) this.retries.inc({ ...l, result: e.result });
        return;
      case "claim-to-ready":
        return this.claimToReady.observe(l, e.seconds);
      case "phase":
        return this.phaseSeconds.observe({ ...l, phase: e.phase }, e.seconds);
      case "quarantine":
        return this.quarantines.inc({ ...l, reason: e.reason });
      case "release":
        return this.releases.inc({ ...l, result: e.result });
      case "wipe":
        return this.wipes.inc({ ...l, result: e.result });
    }
  }
}
