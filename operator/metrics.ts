import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { memberPhases } from "../lib/api/baremetalpool.ts";
import type { MemberView, PoolObject } from "./pool/types.ts";

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
  readonly events = new Counter({
    name: "metalpool_pool_events_total",
    help: "Claims, releases, failures and quarantines.",
    labelNames: ["namespace", "pool", "reason"],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "metalpool_leader",
    help: "1 while this instance holds the leader Lease.",
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "metalpool_workqueue_depth",
    help: "Pools waiting to be reconciled.",
    registers: [this.registry],
  });

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
    collectDefaultMetrics({ register: this.registry, prefix: "metalpool_operator_" });
  }

  observePool(pool: PoolObject, members: MemberView[]): void {
    const ns = pool.metadata.namespace ?? "";
    const name = pool.metadata.name ?? "";
    this.desired.set({ namespace: ns, pool: name }, pool.spec.replicas);
    for (const phase of memberPhases) {
      this.members.set({ namespace: ns, pool: name, phase }, members.filter((m) => m.phase === phase).length);
    }
  }

  forgetPool(namespace: string, name: string): void {
    this.desired.remove({ namespace, pool: name });
    for (const phase of memberPhases) this.members.remove({ namespace, pool: name, phase });
  }
}
