/**
 * Wires informers to the work queue and the queue to the pool reconciler. Informers run on every replica
 * (a warm cache for fast failover); only the leader takes keys off the queue. One key is never reconciled
 * by two workers at once (the queue guarantees it), errors retry with per-key backoff, a requested requeue
 * replaces the backoff, success forgets it.
 */
import type { KubeConfig } from "../lib/kube/kubeconfig.ts";
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import { MACHINE_DEPLOYMENT } from "../lib/api/machine-controller.ts";
import {
  BMC_JOB,
  HARDWARE,
  WORKFLOW,
  type BmcJob,
  type Hardware,
  type Workflow,
} from "../lib/api/tinkerbell.ts";
import { EventRecorder } from "../lib/kube/events.ts";
import { Informer, mergeInformers } from "../lib/kube/informer.ts";
import { WorkQueue, runWorker, type KeyResult } from "../lib/kube/queue.ts";
import { KubeClient, type KubeObject, type ResourceType } from "../lib/kube/rest.ts";
import type { SecretPolicy } from "../lib/kube/secret-policy.ts";
import { servedTypes, typeName } from "../lib/kube/served.ts";
import type { Logger } from "../lib/log.ts";
import { baremetalPoolSpecSchema, type BaremetalPoolSpec } from "../lib/api/baremetalpool.ts";
import type { OperatorMetrics } from "./metrics.ts";
import { InventoryController } from "./inventory.ts";
import {
  collectIfOrphaned,
  confirmOrphanedClaim,
  orphanedClaims,
  pendingJobMachines,
  remoteTargetKey,
  unexplained,
  unexplainedRemote,
  quarantinedBy,
  type ClaimView,
} from "./orphans.ts";
import { POOL, PoolReconciler } from "./pool/reconcile.ts";
import type { PoolObject } from "./pool/types.ts";
import { manualPower, type PowerControl } from "./provision/power.ts";
import { TargetClusters } from "./target.ts";
import { VouchController } from "./vouch.ts";

export interface ControllerOptions {
  kc: KubeConfig;
  namespaces: string[] | undefined;
  workers: number;
  resyncMs: number;
  retryBackoffMs: number;
  log: Logger;
  metrics: OperatorMetrics;
  power?: Partial<Record<"TinkerbellBMC" | "Redfish" | "Manual", PowerControl>>;
  /** Which Secrets references may reach and where BMC credentials may go; strict by default. */
  secretPolicy?: SecretPolicy;
  /** Whether this replica leads right now (asked right before every power and wipe); always, without election. */
  leading?: () => boolean;
  /** Approve pending discovered Hardware that a known BMC vouches for (see vouch.ts); off by default. */
  approveVouched?: boolean;
}

const REQUIRED_KINDS: readonly ResourceType[] = [POOL, HARDWARE, WORKFLOW];
/** Kinds a site may lack, and what goes without them. */
const OPTIONAL_FEATURES = new Map<ResourceType, string>([
  [BMC_JOB, "provisioning.power TinkerbellBMC (rufio not installed)"],
  [
    MACHINE_DEPLOYMENT,
    "noticing at once a MachineDeployment deleted in this cluster (pools still look every pass)",
  ],
]);
const OPTIONAL_KINDS = [...OPTIONAL_FEATURES.keys()];

const keyOf = (o: KubeObject): string => `${o.metadata.namespace}/${o.metadata.name}`;

export class PoolController {
  readonly queue = new WorkQueue({ baseDelayMs: 500, maxDelayMs: 60_000 });
  private readonly pools: Informer<PoolObject>[] = [];
  private readonly hardware: Informer<Hardware>[] = [];
  private readonly workflows: Informer<Workflow>[] = [];
  private readonly others: Informer<KubeObject>[] = [];
  private readonly machineDeployments: Informer<KubeObject>[] = [];
  private readonly bmcJobs: Informer<BmcJob>[] = [];
  private readonly reconciler: PoolReconciler;
  private readonly inventory: InventoryController;
  private readonly vouch: VouchController | undefined;
  private readonly opts: ControllerOptions;
  private workersRunning: Promise<void>[] = [];
  private active = false;
  private readonly scopes: (string | undefined)[];
  private readonly onError: (err: unknown) => void;
  private readonly client: KubeClient;
  private readonly events: EventRecorder;
  private readonly targets: TargetClusters;
  /**
   * Remote clusters (kubeconfig Secret and namespace) pools put MachineDeployments in, with the pool last seen
   * there and the UIDs of pools seen there: swept for orphans while the Secret exists, also after the pools
   * are gone (finalizer force-removed). Kept in memory: a restart forgets a cluster no live pool uses.
   */
  private readonly remoteTargets = new Map<
    string,
    { pool: PoolObject; spec: BaremetalPoolSpec; uids: Set<string> }
  >();
  /** Optional kinds the API server serves and whose informers run. */
  private readonly served = new Set<ResourceType>();
  private readonly reportedMissing = new Set<ResourceType>();
  private redetect: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  /** Ready only once the optional kinds were looked for, so a ready replica has said what it disabled. */
  private optionalDetected = false;
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
    }
    this.scopes = scopes;
    this.onError = onError;
    const client = new KubeClient(opts.kc);
    this.client = client;
    const events = new EventRecorder(opts.kc, "metalpool-operator");
    this.events = events;
    const targets = new TargetClusters(opts.kc, opts.secretPolicy);
    this.targets = targets;
    this.inventory = new InventoryController({
      client,
      hardware: mergeInformers(this.hardware),
      events,
      log: opts.log,
      ...(opts.secretPolicy ? { policy: opts.secretPolicy } : {}),
      observeBmc: (operation, result, seconds) => opts.metrics.observeBmc(operation, result, seconds),
    });
    if (opts.approveVouched)
      this.vouch = new VouchController({
        client,
        hardware: mergeInformers(this.hardware),
        events,
        log: opts.log,
        resyncMs: opts.resyncMs,
        ...(opts.secretPolicy ? { policy: opts.secretPolicy } : {}),
        observeBmc: (operation, result, seconds) => opts.metrics.observeBmc(operation, result, seconds),
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
      observe: (pass) => opts.metrics.observePool(pass),
      now: () => new Date(),
      log: opts.log,
      retryBackoffMs: opts.retryBackoffMs,
      ...(opts.leading ? { leading: opts.leading } : {}),
      unavailable: (spec) => this.unavailable(spec),
      machineDeploymentHardware: (namespace, poolUID) =>
        this.machineDeployments
          .flatMap((i) => i.list())
          .filter(
            (md) =>
              md.metadata.annotations?.[ANNOTATION.poolNamespace] === namespace &&
              md.metadata.labels?.[LABEL.poolUID] !== poolUID,
          )
          .map((md) => md.metadata.labels?.[LABEL.hardware] ?? ""),
      busyBmcMachines: (namespace) =>
        pendingJobMachines(
          this.bmcJobs.flatMap((i) => i.list()),
          namespace,
        ),
    });
    for (const inf of this.pools) {
      inf.on("add", (p) => {
        this.rememberRemoteTarget(p);
        this.queue.add(keyOf(p));
      });
      inf.on("update", (p) => {
        this.rememberRemoteTarget(p);
        this.queue.add(keyOf(p));
      });
      inf.on("delete", (p) => opts.metrics.forgetPool(p.metadata.namespace ?? "", p.metadata.name ?? ""));
    }
    for (const inf of this.hardware) this.pokeOnChange(inf);
    for (const inf of this.workflows) this.pokeOnChange(inf);
    // Only the leader knows its members' phases; a standby exporting a fleet too would count servers twice.
    opts.metrics.watchFleet(
      () => (this.active ? this.hardware.flatMap((i) => i.list()) : undefined),
      (uid) => this.pools.some((i) => i.list().some((p) => p.metadata.uid === uid)),
    );
  }

  /** Anything about servers in a namespace may matter to every pool there (a freed server ends a shortage). */
  private pokeOnChange<T extends KubeObject>(inf: Informer<T>): void {
    const poke = (o: T): void => this.enqueueNamespace(o.metadata.namespace ?? "");
    inf.on("add", poke).on("update", (o, old) => {
      if (o.metadata.resourceVersion !== old?.metadata.resourceVersion) poke(o);
    });
    inf.on("delete", poke);
  }

  /** Informers for an optional kind that the API server serves, started; the pools are looked at again. */
  private async startOptional(type: ResourceType): Promise<void> {
    const made = this.scopes.map((namespace) =>
      type === MACHINE_DEPLOYMENT
        ? // MachineDeployments in this cluster that metalpool made (a person deleting one is noticed at once).
          new Informer<KubeObject>(this.opts.kc, type, {
            namespace,
            labelSelector: LABEL.poolUID,
            onError: this.onError,
          })
        : new Informer<KubeObject>(this.opts.kc, type, { namespace, onError: this.onError }),
    );
    for (const inf of made) {
      if (type === MACHINE_DEPLOYMENT) {
        const pokeOwner = (o: KubeObject): void =>
          this.enqueueNamespace(o.metadata.annotations?.[ANNOTATION.poolNamespace] ?? "");
        inf.on("add", pokeOwner).on("update", pokeOwner).on("delete", pokeOwner);
      } else this.pokeOnChange(inf);
    }
    if (type === MACHINE_DEPLOYMENT) this.machineDeployments.push(...made);
    else if (type === BMC_JOB) this.bmcJobs.push(...(made as unknown as Informer<BmcJob>[]));
    else this.others.push(...made);
    await Promise.all(made.map((i) => i.start()));
    this.served.add(type);
    for (const inf of this.pools) for (const p of inf.list()) this.queue.add(keyOf(p));
  }

  /** Looks for optional kinds not served yet; any that appeared (a CRD installed later) gets its informers. */
  private async detectOptional(): Promise<void> {
    const missing = OPTIONAL_KINDS.filter((t) => !this.served.has(t));
    if (missing.length === 0) return;
    const served = await servedTypes(this.client, missing);
    for (const type of missing) {
      if (served.has(type)) {
        this.opts.log.info({ kind: typeName(type) }, "now served; enabling what needs it");
        await this.startOptional(type);
      } else if (!this.reportedMissing.has(type)) {
        this.reportedMissing.add(type);
        this.opts.log.warn(
          { kind: typeName(type), disabled: OPTIONAL_FEATURES.get(type) },
          "not served by the API server; disabled until it is",
        );
      }
    }
  }

  /** Why a pool with this spec cannot act in this cluster, or undefined. */
  private unavailable(spec: BaremetalPoolSpec): string | undefined {
    if (spec.provisioning.power === "TinkerbellBMC" && !this.served.has(BMC_JOB))
      return `provisioning.power TinkerbellBMC needs rufio's ${typeName(BMC_JOB)}, which this cluster does not serve; install rufio (Tinkerbell's BMC controller) or set provisioning.power to Redfish or Manual`;
    return undefined;
  }

  private allInformers(): Informer<KubeObject>[] {
    return [
      ...this.pools,
      ...this.hardware,
      ...this.workflows,
      ...this.others,
      ...this.machineDeployments,
      ...this.bmcJobs,
    ] as Informer<KubeObject>[];
  }

  private enqueueNamespace(namespace: string): void {
    for (const inf of this.pools)
      for (const p of inf.list()) if (p.metadata.namespace === namespace) this.queue.add(keyOf(p));
  }

  /**
   * Starts the caches; resolves when all have synced. The kinds metalpool cannot work without must be served
   * (a clear error otherwise); optional ones that are not disable what needs them and are looked for again
   * every resync period.
   */
  async startInformers(): Promise<void> {
    const required = await servedTypes(this.client, REQUIRED_KINDS);
    const absent = REQUIRED_KINDS.filter((t) => !required.has(t));
    if (absent.length)
      throw new Error(
        `the API server does not serve ${absent.map(typeName).join(", ")}; install metalpool's CRDs and Tinkerbell's before the operator`,
      );
    await Promise.all(this.allInformers().map((i) => i.start()));
    await this.detectOptional();
    this.optionalDetected = true;
    this.redetect = setInterval(() => {
      this.detectOptional().catch((err: unknown) => this.onError(err));
    }, this.opts.resyncMs);
    this.redetect.unref();
  }

  /** Ready when every informer that runs has synced. */
  hasSynced(): boolean {
    return this.optionalDetected && this.allInformers().every((i) => i.hasSynced());
  }

  /** Called when this instance becomes leader: start workers and look at every pool once. */
  activate(leadership?: AbortSignal): void {
    if (this.active) return;
    this.active = true;
    this.leadership = leadership;
    for (const inf of this.pools) for (const p of inf.list()) this.queue.add(keyOf(p));
    this.workersRunning = Array.from({ length: this.opts.workers }, () => this.worker());
    this.inventory.start();
    this.vouch?.start(leadership);
    const sweep = (): void => {
      this.collectOrphans().catch((err: unknown) => this.onError(err));
    };
    this.sweeper = setInterval(sweep, this.opts.resyncMs);
    sweep();
  }

  /** Deletes Workflows, bmc Jobs and MachineDeployments that no live claim explains; see orphans.ts. */
  async collectOrphans(): Promise<number> {
    const uids = new Set(this.pools.flatMap((i) => i.list().map((p) => p.metadata.uid ?? "")));
    const hardware = mergeInformers(this.hardware);
    const view: ClaimView = {
      poolExists: (uid) => uids.has(uid),
      claimOf: (ns, name) => hardware.get(ns, name)?.metadata.labels?.[LABEL.poolUID],
      quarantinedBy: (ns, name) => quarantinedBy(hardware.get(ns, name)),
    };
    const client = this.leadership ? this.client.withSignal(this.leadership) : this.client;
    let collected = 0;
    const candidates: [ResourceType, KubeObject][] = [
      ...unexplained(
        this.workflows.flatMap((i) => i.list()),
        view,
      ).map((o) => [WORKFLOW, o] as [ResourceType, KubeObject]),
      ...unexplained(
        this.machineDeployments.flatMap((i) => i.list()),
        view,
      ).map((o) => [MACHINE_DEPLOYMENT, o] as [ResourceType, KubeObject]),
      ...unexplained(
        this.bmcJobs.flatMap((i) => i.list()),
        view,
      ).map((o) => [BMC_JOB, o] as [ResourceType, KubeObject]),
    ];
    for (const [type, o] of candidates) {
      if (!this.active) break;
      if (await collectIfOrphaned(client, type, o)) {
        collected += 1;
        this.logCollected(type, o);
      }
    }
    collected += await this.collectRemote(client, view, uids);
    await this.reportOrphanedClaims(client, view);
    return collected;
  }

  /**
   * MachineDeployments in other clusters (spec.template.cluster.kubeconfigSecretRef) that no live claim
   * explains: every remote cluster a live pool uses, and every one a pool used since this replica started.
   */
  private async collectRemote(client: KubeClient, view: ClaimView, live: Set<string>): Promise<number> {
    this.rememberRemoteTargets();
    let collected = 0;
    for (const [key, entry] of this.remoteTargets) {
      if (!this.active) break;
      const inUse = [...entry.uids].some((uid) => live.has(uid));
      try {
        collected += await this.sweepRemote(client, view, key, entry, new Set([...entry.uids, ...live]));
      } catch (err) {
        // Unreachable or its Secret gone: a live pool says so in its status; a dead pool's cluster is let go.
        if (!inUse) this.remoteTargets.delete(key);
        this.opts.log.warn(
          { target: key, err: err instanceof Error ? err.message : String(err), forgotten: !inUse },
          "could not look for orphaned MachineDeployments in a remote cluster",
        );
      }
    }
    return collected;
  }

  private rememberRemoteTargets(): void {
    for (const pool of this.pools.flatMap((i) => i.list())) this.rememberRemoteTarget(pool);
  }

  /** Called for every pool the informers show, so a pool deleted between two sweeps is remembered too. */
  private rememberRemoteTarget(pool: PoolObject): void {
    const parsed = baremetalPoolSpecSchema.safeParse(pool.spec);
    const key = parsed.success ? remoteTargetKey(pool, parsed.data) : undefined;
    if (!parsed.success || !key) return;
    const entry = this.remoteTargets.get(key) ?? { pool, spec: parsed.data, uids: new Set<string>() };
    entry.pool = pool;
    entry.spec = parsed.data;
    entry.uids.add(pool.metadata.uid ?? "");
    this.remoteTargets.set(key, entry);
  }

  private async sweepRemote(
    client: KubeClient,
    view: ClaimView,
    key: string,
    entry: { pool: PoolObject; spec: BaremetalPoolSpec },
    ours: ReadonlySet<string>,
  ): Promise<number> {
    const target = await this.targets.resolve(entry.pool, entry.spec);
    const mds = await target.client.list<KubeObject>(MACHINE_DEPLOYMENT, target.namespace, {
      labelSelector: LABEL.poolUID,
    });
    let collected = 0;
    for (const md of unexplainedRemote(mds.items, view, ours)) {
      if (!this.active) break;
      if (await collectIfOrphaned(client, MACHINE_DEPLOYMENT, md, target.client)) {
        collected += 1;
        this.logCollected(MACHINE_DEPLOYMENT, md, key);
      }
    }
    return collected;
  }

  private logCollected(type: ResourceType, o: KubeObject, cluster?: string): void {
    this.opts.log.info(
      {
        kind: type.kind,
        ...(cluster ? { cluster } : {}),
        namespace: o.metadata.namespace,
        name: o.metadata.name,
        pool: o.metadata.labels?.[LABEL.pool],
        hardware: o.metadata.labels?.[LABEL.hardware],
      },
      "deleted an object no live claim explains",
    );
  }

  /** Orphaned claims told once per server and claim (a Warning Event on the Hardware and a log line). */
  private readonly toldOrphanedClaims = new Set<string>();

  /**
   * Hardware still claimed by a pool that no longer exists is not released or wiped here (its disk is in an
   * unknown state) and no pool claims it; a person is told, on the Hardware, how to let it go.
   */
  private async reportOrphanedClaims(client: KubeClient, view: ClaimView): Promise<void> {
    for (const hw of orphanedClaims(
      this.hardware.flatMap((i) => i.list()),
      view,
    )) {
      if (!this.active) return;
      const told = `${hw.metadata.uid}|${hw.metadata.labels?.[LABEL.poolUID]}`;
      if (this.toldOrphanedClaims.has(told)) continue;
      const fresh = await confirmOrphanedClaim(client, hw);
      if (!fresh) continue;
      this.toldOrphanedClaims.add(told);
      const pool = `${fresh.metadata.labels?.[LABEL.pool] ?? "?"} (uid ${fresh.metadata.labels?.[LABEL.poolUID]})`;
      const message = `claimed by pool ${pool}, which no longer exists; no pool will claim it until a person releases it: kubectl label hardware -n ${fresh.metadata.namespace} ${fresh.metadata.name} ${LABEL.poolUID}- ${LABEL.pool}- (its disk may hold that pool's data; add ${LABEL.quarantined}=true instead to keep it out of service)`;
      this.opts.log.warn(
        { namespace: fresh.metadata.namespace, hardware: fresh.metadata.name, pool },
        "Hardware claimed by a pool that no longer exists; left for a person",
      );
      void this.events.record(
        { ...fresh, apiVersion: "tinkerbell.org/v1alpha1", kind: "Hardware" },
        "Warning",
        "OrphanedClaim",
        message,
      );
    }
  }

  /** Stops acting (lost leadership or shutting down); waits for in-flight reconciles to finish. */
  async deactivate(): Promise<void> {
    this.active = false;
    clearInterval(this.sweeper);
    this.queue.shutDown();
    await Promise.all([...this.workersRunning, this.inventory.stop(), this.vouch?.stop()]);
    await this.events.flush(); // combined Events still gathering
  }

  stopInformers(): void {
    clearInterval(this.redetect);
    for (const i of this.allInformers()) i.stop();
  }

  private worker(): Promise<void> {
    return runWorker(
      this.queue,
      (key) => this.reconcileKey(key),
      (key, err, retryInMs) =>
        this.opts.log.warn(
          { pool: key, err: err instanceof Error ? err.message : String(err), retryInMs },
          "reconcile failed",
        ),
    );
  }

  private async reconcileKey(key: string): Promise<KeyResult> {
    this.opts.metrics.queueDepth.set(this.queue.length);
    if (!this.active) return undefined;
    const [namespace, name] = key.split("/") as [string, string];
    const pool = this.pools.map((i) => i.get(namespace, name)).find(Boolean);
    if (!pool) return undefined;
    const end = this.opts.metrics.reconcileSeconds.startTimer();
    try {
      const outcome = await this.reconciler.reconcile(pool, this.leadership);
      this.opts.metrics.reconciles.inc({ result: "success" });
      return outcome;
    } catch (err) {
      this.opts.metrics.reconciles.inc({ result: "error" });
      throw err;
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
