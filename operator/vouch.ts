/**
 * Strong approval of discovered servers (--approve-vouched). Discovery cannot tell a real server from a host
 * that spoofs one, and holds no credentials to ask anyone; the operator can: it asks the BMCs the cluster
 * already knows (bmc.tinkerbell.org Machines in the Hardware's namespace) what servers they manage, and
 * approves a pending discovered Hardware only when one of them reports its MAC or UUID (see
 * vouch-match.ts for the exact rules). Nothing is ever rejected: an unvouched server stays pending.
 *
 * One pass per namespace at a time (the queue's key), started when a server becomes pending and repeated
 * every resync period while any is; what the BMCs report is reused for a while (bmc-reports.ts), so a
 * flood of pending Hardware costs the BMCs nothing more. Approval is decided again on a fresh list and
 * written with the resourceVersion it was decided on.
 */
import { ANNOTATION } from "../lib/api/labels.ts";
import { BMC_MACHINE, HARDWARE, type Hardware } from "../lib/api/tinkerbell.ts";
import { BmcConfigError, resolveMachineBmc, type BmcMachine } from "../lib/bmc/target.ts";
import type { EventRecorder } from "../lib/kube/events.ts";
import type { Informer } from "../lib/kube/informer.ts";
import { WorkQueue, runWorker, type KeyResult } from "../lib/kube/queue.ts";
import { isConflict, isNotFound, type KubeClient } from "../lib/kube/rest.ts";
import type { SecretPolicy } from "../lib/kube/secret-policy.ts";
import type { Logger } from "../lib/log.ts";
import { RedfishClient } from "../lib/redfish/client.ts";
import { RedfishError } from "../lib/redfish/errors.ts";
import { readIdentity } from "../lib/redfish/inventory.ts";
import { BmcReports } from "./bmc-reports.ts";
import { timedBmcRequest, type BmcObserver } from "./provision/bmc-requests.ts";
import { eventReason } from "./inventory.ts";
import {
  boundMachines,
  decideVouching,
  isVouchCandidate,
  vouchPatch,
  type BmcReport,
  type Verdict,
} from "./vouch-match.ts";

export interface VouchDeps {
  client: KubeClient;
  hardware: Informer<Hardware>;
  events: EventRecorder;
  log: Logger;
  /** Look at a namespace with pending servers again this often (a bmc Machine added since is noticed then). */
  resyncMs: number;
  policy?: SecretPolicy;
  /** How long what a BMC reported is used before it is asked again. */
  reportTtlMs?: number;
  /** BMCs read at once, at most. */
  concurrency?: number;
  timeoutMs?: number;
  /** Told of every BMC read (metrics). */
  observeBmc?: BmcObserver;
}

/** What a Machine's BMC reports about its system: UUID and NIC MACs. */
async function readReport(
  client: KubeClient,
  machine: BmcMachine,
  opts: { policy?: SecretPolicy; timeoutMs?: number },
): Promise<BmcReport> {
  const bmc = await resolveMachineBmc(client, machine, opts.policy ? { policy: opts.policy } : {});
  const redfish = new RedfishClient({
    ...bmc.endpoint,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  });
  try {
    const inv = await readIdentity(redfish, bmc.systemId);
    return {
      machine: machine.metadata.name ?? "",
      ...(inv.uuid ? { uuid: inv.uuid } : {}),
      macs: inv.nics.map((n) => n.mac),
    };
  } finally {
    await redfish.close();
  }
}

/** The client's MAC and UUID as discovery recorded them: a change is worth a new look, a last-seen is not. */
const claimedIdentity = (hw: Hardware): string =>
  `${hw.spec.interfaces?.[0]?.dhcp?.mac ?? ""}|${hw.metadata.annotations?.[ANNOTATION.uuid] ?? ""}`;

export class VouchController {
  readonly queue = new WorkQueue({ baseDelayMs: 5_000, maxDelayMs: 5 * 60_000 });
  private readonly deps: VouchDeps;
  private readonly reports: BmcReports;
  private client: KubeClient;
  private running: Promise<void> | undefined;
  private reportedUnserved = false;
  /** The doubt last reported per Hardware uid, so a standing doubt is said once, not every pass. */
  private readonly doubts = new Map<string, { namespace: string; reason: string }>();

  constructor(deps: VouchDeps) {
    this.deps = deps;
    this.client = deps.client;
    this.reports = new BmcReports({
      read: (m) =>
        timedBmcRequest(
          "vouch",
          deps.observeBmc,
          () =>
            readReport(this.client, m, {
              ...(deps.policy ? { policy: deps.policy } : {}),
              ...(deps.timeoutMs !== undefined ? { timeoutMs: deps.timeoutMs } : {}),
            }),
          () => "success",
        ),
      onFailure: (m, err, retryInMs) => this.bmcFailed(m, err, retryInMs),
      ...(deps.reportTtlMs !== undefined ? { ttlMs: deps.reportTtlMs } : {}),
      ...(deps.concurrency !== undefined ? { concurrency: deps.concurrency } : {}),
    });
    const look = (hw: Hardware): void => this.queue.add(hw.metadata.namespace ?? "");
    deps.hardware
      .on("add", (hw) => {
        if (isVouchCandidate(hw)) look(hw);
      })
      .on("update", (hw, old) => {
        if (!isVouchCandidate(hw)) return;
        if (!old || !isVouchCandidate(old) || claimedIdentity(old) !== claimedIdentity(hw)) look(hw);
      });
  }

  /** Starts acting (this replica leads); requests end when `leadership` aborts. */
  start(leadership?: AbortSignal): void {
    this.client = leadership ? this.deps.client.withSignal(leadership) : this.deps.client;
    for (const hw of this.deps.hardware.list())
      if (isVouchCandidate(hw)) this.queue.add(hw.metadata.namespace ?? "");
    this.running = runWorker(
      this.queue,
      (namespace) => this.pass(namespace),
      (namespace, err, retryInMs) =>
        this.deps.log.warn(
          { namespace, err: err instanceof Error ? err.message : String(err), retryInMs },
          "looking for BMCs to vouch for pending servers failed",
        ),
    );
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await this.running;
  }

  /** One namespace: which pending servers a known BMC vouches for, and approving them. */
  async pass(namespace: string): Promise<KeyResult> {
    const all = this.deps.hardware.list().filter((hw) => hw.metadata.namespace === namespace);
    const candidates = all.filter(isVouchCandidate);
    this.forgetDoubts(namespace, new Set(candidates.map((hw) => hw.metadata.uid ?? "")));
    if (candidates.length === 0) return undefined;
    // A BMC that another Hardware already names vouches for nobody else: not even asked.
    const bound = boundMachines(all);
    const machines = (await this.machines(namespace)).filter((m) => !bound.has(m.metadata.name ?? ""));
    const reports = await this.reports.of(namespace, machines);
    const planned = decideVouching(all, reports);
    const outcome = [...planned.values()].some((v) => v.kind === "vouched")
      ? await this.approve(namespace, reports)
      : { verdicts: planned, conflicts: 0 };
    for (const hw of candidates) this.tell(hw, outcome.verdicts.get(hw.metadata.name ?? ""), reports.length);
    // A write that lost a race is decided again in a moment; otherwise at the next resync.
    return { requeueAfterMs: outcome.conflicts ? 1_000 : this.deps.resyncMs };
  }

  /** Decides again on a fresh list of the namespace's Hardware and approves what is still vouched for. */
  private async approve(
    namespace: string,
    reports: BmcReport[],
  ): Promise<{ verdicts: Map<string, Verdict>; conflicts: number }> {
    const fresh = (await this.client.list<Hardware>(HARDWARE, namespace)).items;
    const verdicts = decideVouching(fresh, reports);
    let conflicts = 0;
    for (const hw of fresh) {
      const name = hw.metadata.name ?? "";
      const v = verdicts.get(name);
      if (v?.kind !== "vouched") continue;
      try {
        const approved = await this.client.patch<Hardware>(
          HARDWARE,
          namespace,
          name,
          vouchPatch(hw, v.machine),
          "merge",
        );
        this.deps.log.info(
          { hardware: `${namespace}/${name}`, bmcMachine: v.machine, evidence: v.evidence },
          "approved a discovered server a known BMC vouches for",
        );
        void this.deps.events.record(
          { ...approved, apiVersion: "tinkerbell.org/v1alpha1", kind: "Hardware" },
          "Normal",
          "Vouched",
          `approved: bmc Machine ${v.machine} reports its ${v.evidence}`,
        );
      } catch (err) {
        // 409: someone wrote the Hardware since the list (a person, a claim, discovery's last-seen). 404: gone.
        if (isConflict(err)) conflicts += 1;
        else if (!isNotFound(err)) throw err;
      }
    }
    return { verdicts, conflicts };
  }

  /** Says why a server stays pending: a doubt once (log and Warning Event), "nobody knows it" at debug. */
  private tell(hw: Hardware, v: Verdict | undefined, bmcs: number): void {
    const uid = hw.metadata.uid ?? "";
    const hardware = `${hw.metadata.namespace}/${hw.metadata.name}`;
    if (v?.kind === "unknown")
      this.deps.log.debug({ hardware, bmcs }, "no known BMC vouches for this server");
    if (v?.kind !== "doubtful" || this.doubts.get(uid)?.reason === v.reason) return;
    this.doubts.set(uid, { namespace: hw.metadata.namespace ?? "", reason: v.reason });
    this.deps.log.warn(
      { hardware, reason: v.reason },
      "not approving a discovered server: the BMCs' evidence conflicts",
    );
    void this.deps.events.record(
      { ...hw, apiVersion: "tinkerbell.org/v1alpha1", kind: "Hardware" },
      "Warning",
      "NotVouched",
      `left pending: ${v.reason}`,
    );
  }

  private forgetDoubts(namespace: string, pending: Set<string>): void {
    for (const [uid, d] of this.doubts)
      if (d.namespace === namespace && !pending.has(uid)) this.doubts.delete(uid);
  }

  /** The namespace's bmc Machines; none where rufio's CRDs are not installed. */
  private async machines(namespace: string): Promise<BmcMachine[]> {
    try {
      return (await this.client.list<BmcMachine>(BMC_MACHINE, namespace)).items;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      if (!this.reportedUnserved)
        this.deps.log.warn(
          "bmc.tinkerbell.org Machines are not served; no BMC can vouch for a discovered server",
        );
      this.reportedUnserved = true;
      return [];
    }
  }

  private bmcFailed(m: BmcMachine, err: unknown, retryInMs: number): void {
    const message = err instanceof Error ? err.message : String(err);
    this.deps.log.warn(
      { bmcMachine: `${m.metadata.namespace}/${m.metadata.name}`, err: message, retryInMs },
      "reading a BMC to vouch for pending servers failed",
    );
    if (err instanceof RedfishError || err instanceof BmcConfigError)
      void this.deps.events.record(
        { ...m, apiVersion: `${BMC_MACHINE.group}/${BMC_MACHINE.version}`, kind: BMC_MACHINE.kind },
        "Warning",
        eventReason(err),
        message,
      );
  }
}
