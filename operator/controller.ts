/**
 * Wires informers to the work queue and the queue to the pool reconciler. Informers run on every replica
 * (a warm cache for fast failover); only the leader takes keys off the queue. One key is never reconciled
 * by two workers at once (the queue guarantees it), errors retry with per-key backoff, a requested requeue
 * replaces the backoff, success forgets it.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import { MACHINE_DEPLOYMENT } from "../lib/api/machine-controller.ts";
import { BMC_JOB, HARDWARE, WORKFLOW, type Hardware, type Workflow } from "../lib/api/tinkerbell.ts";
import { EventRecorder } from "../lib/kube/events.ts";
import { Informer, mergeInformers } from "../lib/kube/informer.ts";
import { WorkQueue } from "../lib/kube/queue.ts";
import { KubeClient, type KubeObject } from "../lib/kube/rest.ts";
import type { Logger } from "../lib/log.ts";
import type { OperatorMetrics } from "./metrics.ts";
import { InventoryController } from "./inventory.ts";
import { POOL, PoolReconciler } from "./pool/reconcile.ts";
import type { PoolObject } from "./pool/types.ts";
import { manualPower, type PowerControl } from "./provision/power.ts";
import { TargetClusters } from "./target.ts";

export interface ControllerOptions {
  kc: KubeConfig;
  namespaces: string[] | undefined;
  workers: number;
  resyncMs: number;
  retryBackoffMs: number;
  log: Logger;
  metrics: OperatorMetrics;
  power?: Partial<Record<"TinkerbellBMC" | "Redfish" | "Manual", PowerControl>>;
  /** Whether this replica leads right now (asked right before every power and wipe); always, without election. */
  leading?: () => boolean;
}

const keyOf = (o: KubeObject): string => `${o.metadata.namespace}/${o.metadata.name}`;

export class PoolController {
  readonly queue = new WorkQueue({ baseDelayMs: 500, maxDelayMs: 60_000 });
  private readonly pools: Informer<PoolObject>[] = [];
  private readonly hardware: Informer<Hardware>[] = [];
  private readonly workflows: Informer<Workflow>[] = [];
  private readonly others: Informer<KubeObject>[] = [];
  private readonly machineDeployments: Informer<KubeObject>[] = [];
  private readonly reconciler: PoolReconciler;
  private readonly inventory: InventoryController;
  private readonly opts: ControllerOptions;
  private workersRunning: Promise<void>[] = [];
  private active = false;
  /** Aborts when this replica stops acting: in-flight reconciles end their API calls and take no action. */
  private leadership: AbortSignal | undefined;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    const scopes = opts.namespaces?.length ? opts.namespaces : [undefined];
    const onError = (err: unknown): void =>
      opts.log.warn({ err: err instanceof Error ? err.message : String(err) }, "informer error; retrying");
    for (const namespace of scopes) {
      this.pools.push(
        new Informer<PoolObject>(opts.kc, POOL, { namespace, resyncMs: opts.resyncMs, onError }),
      );
      this.hardware.push(new Informer<Hardware>(opts.kc, HARDWARE, { namespace, onError }));
      this.workflows.push(new Informer<Workflow>(opts.kc, WORKFLOW, { namespace, onError }));
      this.others.push(new Informer<KubeObject>(opts.kc, BMC_JOB, { namespace, onError }));
      // MachineDeployments in this cluster that metalpool made (a person deleting one is noticed at once).
      this.machineDeployments.push(
        new Informer<KubeObject>(opts.kc, MACHINE_DEPLOYMENT, {
          namespace,
          labelSelector: LABEL.poolUID,
          onError,
        }),
      );
    }
    const client = new KubeClient(opts.kc);
    const events = new EventRecorder(opts.kc, "metalpool-operator");
    const targets = new TargetClusters(opts.kc);
    this.inventory = new InventoryController({
      client,
      hardware: mergeInformers(this.hardware),
      events,
      log: opts.log,
    });
    this.reconciler = new PoolReconciler({
      client,
      hardware: mergeInformers(this.hardware),
      workflows: mergeInformers(this.workflows),
      target: (pool, spec) => targets.resolve(pool, spec),
      power: (mode) => opts.power?.[mode] ?? (mode === "Manual" ? manualPower : missingPower(mode)),
      event: (pool, type, reason, message) => {
        opts.metrics.events.inc({
          namespace: pool.metadata.namespace ?? "",
          pool: pool.metadata.name ?? "",
          reason,
        });
        void events.record(
          { ...pool, apiVersion: "metalpool.io/v1alpha1", kind: "BaremetalPool" },
          type,
          reason,
          message,
        );
      },
      observe: (pool, members) => opts.metrics.observePool(pool, members),
      now: () => new Date(),
      log: opts.log,
      retryBackoffMs: opts.retryBackoffMs,
      ...(opts.leading ? { leading: opts.leading } : {}),
    });
    for (const inf of this.pools) {
      inf.on("add", (p) => this.queue.add(keyOf(p)));
      inf.on("update", (p) => this.queue.add(keyOf(p)));
      inf.on("delete", (p) => opts.metrics.forgetPool(p.metadata.namespace ?? "", p.metadata.name ?? ""));
    }
    // Anything about servers in a namespace may matter to every pool there (a freed server ends a shortage).
    const poke = (o: KubeObject): void => this.enqueueNamespace(o.metadata.namespace ?? "");
    const pokeOwner = (o: KubeObject): void =>
      this.enqueueNamespace(o.metadata.annotations?.[ANNOTATION.poolNamespace] ?? "");
    for (const inf of this.machineDeployments)
      inf.on("add", pokeOwner).on("update", pokeOwner).on("delete", pokeOwner);
    for (const inf of [...this.hardware, ...this.workflows, ...this.others] as Informer<KubeObject>[]) {
      inf.on("add", poke).on("update", (o, old) => {
        if (o.metadata.resourceVersion !== old?.metadata.resourceVersion) poke(o);
      });
      inf.on("delete", poke);
    }
  }

  private allInformers(): Informer<KubeObject>[] {
    return [
      ...this.pools,
      ...this.hardware,
      ...this.workflows,
      ...this.others,
      ...this.machineDeployments,
    ] as Informer<KubeObject>[];
  }

  private enqueueNamespace(namespace: string): void {
    for (const inf of this.pools)
      for (const p of inf.list()) if (p.metadata.namespace === namespace) this.queue.add(keyOf(p));
  }

  /** Starts the caches; resolves when all have synced. */
  async startInformers(): Promise<void> {
    await Promise.all(this.allInformers().map((i) => i.start()));
  }

  hasSynced(): boolean {
    return [...this.pools, ...this.hardware, ...this.workflows].every((i) => i.hasSynced());
  }

  /** Called when this instance becomes leader: start workers and look at every pool once. */
  activate(leadership?: AbortSignal): void {
    if (this.active) return;
    this.active = true;
    this.leadership = leadership;
    for (const inf of this.pools) for (const p of inf.list()) this.queue.add(keyOf(p));
    this.workersRunning = Array.from({ length: this.opts.workers }, () => this.worker());
    this.inventory.start();
  }

  /** Stops acting (lost leadership or shutting down); waits for in-flight reconciles to finish. */
  async deactivate(): Promise<void> {
    this.active = false;
    this.queue.shutDown();
    await Promise.all([...this.workersRunning, this.inventory.stop()]);
  }

  stopInformers(): void {
    for (const i of this.allInformers()) i.stop();
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.opts.metrics.queueDepth.set(this.queue.length);
      try {
        if (this.active) await this.reconcileKey(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async reconcileKey(key: string): Promise<void> {
    const [namespace, name] = key.split("/") as [string, string];
    const pool = this.pools.map((i) => i.get(namespace, name)).find(Boolean);
    if (!pool) return this.queue.forget(key);
    const end = this.opts.metrics.reconcileSeconds.startTimer();
    try {
      const outcome = await this.reconciler.reconcile(pool, this.leadership);
      this.opts.metrics.reconciles.inc({ result: "success" });
      this.queue.forget(key);
      if (outcome.requeueAfterMs !== undefined) this.queue.addAfter(key, outcome.requeueAfterMs);
    } catch (err) {
      this.opts.metrics.reconciles.inc({ result: "error" });
      const delay = this.queue.addRateLimited(key);
      this.opts.log.warn(
        { pool: key, err: err instanceof Error ? err.message : String(err), retryInMs: delay },
        "reconcile failed",
      );
    } finally {
      end();
    }
  }
}

function missingPower(mode: string): PowerControl {
  const fail = (): Promise<void> =>
    Promise.reject(new Error(`power mode ${mode} is not available in this operator build`));
  return { netbootOnce: fail, powerOff: fail };
}
