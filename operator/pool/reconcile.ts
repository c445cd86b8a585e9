/**
 * Reconciling one BaremetalPool — the page a newcomer reads. Every pass rebuilds the picture from the
 * world (Hardware, Workflows, MachineDeployments), so a crash at any point converges on restart:
 *   1. guard: finalizer, valid spec, paused
 *   2. look: members (Hardware claimed by this pool's UID) with their MachineDeployment and Workflows
 *   3. shrink: mark victims, deprovision them (delete MachineDeployment → wipe → release)
 *   4. progress: drive each remaining member (MachineDeployment, Workflow, power, retry, quarantine)
 *   5. grow: claim free eligible Hardware up to spec.replicas
 *   6. report: status and conditions, written once and only when changed; Events along the way
 */
import {
  baremetalPoolSpecSchema,
  type BaremetalPoolSpec,
  type Member,
  type MemberPhase,
} from "../../lib/api/baremetalpool.ts";
import { ANNOTATION, FIELD_MANAGER, FINALIZER, LABEL } from "../../lib/api/labels.ts";
import { MACHINE_DEPLOYMENT, type MachineDeployment } from "../../lib/api/machine-controller.ts";
import { parseDuration } from "../../lib/api/quantity.ts";
import { matchesSelector } from "../../lib/api/selector.ts";
import { TEMPLATE, WORKFLOW, workflowState, type Hardware, type Workflow } from "../../lib/api/tinkerbell.ts";
import type { EventType } from "../../lib/kube/events.ts";
import type { Informer } from "../../lib/kube/informer.ts";
import { KubeClient, isAlreadyExists, type ResourceType } from "../../lib/kube/rest.ts";
import type { Logger } from "../../lib/log.ts";
import { buildMachineDeployment, type PoolRef } from "../provision/machine-deployment.ts";
import type { PowerControl } from "../provision/power.ts";
import {
  buildProvisionTemplate,
  buildWipeTemplate,
  provisionTemplateName,
  wipeTemplateName,
} from "../provision/template.ts";
import { buildWorkflow, type WorkflowPurpose } from "../provision/workflow.ts";
import { mergeConditions, type ConditionInput } from "./conditions.ts";
import { assertClaimed, claim, markReleasing, quarantine, release } from "./hardware-writes.ts";
import {
  availabilityGaps,
  chooseHardware,
  isEligible,
  provisionabilityGaps,
  requirementGaps,
} from "./select.ts";
import type { MemberView, Outcome, PoolObject } from "./types.ts";

export const POOL: ResourceType = {
  group: "metalpool.io",
  version: "v1alpha1",
  plural: "baremetalpools",
  kind: "BaremetalPool",
  namespaced: true,
};

export interface TargetCluster {
  client: KubeClient;
  namespace: string;
}

export interface ReconcilerDeps {
  client: KubeClient;
  hardware: Informer<Hardware>;
  workflows: Informer<Workflow>;
  /** The cluster and namespace where this pool's MachineDeployments live (throws when unreachable). */
  target(pool: PoolObject, spec: BaremetalPoolSpec): Promise<TargetCluster>;
  power(mode: BaremetalPoolSpec["provisioning"]["power"]): PowerControl;
  event(pool: PoolObject, type: EventType, reason: string, message: string): void;
  observe?: (pool: PoolObject, members: MemberView[]) => void;
  now(): Date;
  log: Logger;
  /** Wait before the next attempt after a failed one: base × 2^(attempt-1). */
  retryBackoffMs: number;
}

const TERMINAL_FAILURE = new Set(["FAILED", "TIMEOUT"]);
const PROGRESSING_PHASES = new Set<MemberPhase>(["Claimed", "Provisioning", "Deprovisioning"]);

export class PoolReconciler {
  private readonly d: ReconcilerDeps;
  constructor(deps: ReconcilerDeps) {
    this.d = deps;
  }

  async reconcile(pool: PoolObject): Promise<Outcome> {
    const ref: PoolRef = {
      name: pool.metadata.name ?? "",
      namespace: pool.metadata.namespace ?? "",
      uid: pool.metadata.uid ?? "",
    };
    const deleting = Boolean(pool.metadata.deletionTimestamp);
    if (!deleting && !pool.metadata.finalizers?.includes(FINALIZER)) {
      await this.d.client.patch(
        POOL,
        ref.namespace,
        ref.name,
        {
          metadata: {
            finalizers: [...(pool.metadata.finalizers ?? []), FINALIZER],
            resourceVersion: pool.metadata.resourceVersion,
          },
        },
        "merge",
      );
      return { requeueAfterMs: 0 };
    }
    const parsed = baremetalPoolSpecSchema.safeParse(pool.spec);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
      await this.writeStatus(
        pool,
        [],
        [{ type: "Degraded", status: "True", reason: "InvalidSpec", message }],
        0,
      );
      return {}; // terminal until the spec changes
    }
    const spec = parsed.data;
    const desired = deleting ? 0 : spec.replicas;

    let target: TargetCluster;
    try {
      target = await this.d.target(pool, spec);
      await target.client.list(MACHINE_DEPLOYMENT, target.namespace, {
        labelSelector: `${LABEL.poolUID}=${ref.uid}`,
        limit: 1,
      });
    } catch (err) {
      const message = `target cluster unreachable: ${err instanceof Error ? err.message : String(err)}`;
      await this.writeStatus(
        pool,
        this.observe(ref, new Map()),
        [
          { type: "Degraded", status: "True", reason: "TargetClusterUnreachable", message },
          { type: "Ready", status: "False", reason: "TargetClusterUnreachable", message },
        ],
        this.available(pool, spec).length,
      );
      throw new Error(message, { cause: err });
    }

    const mds = await this.machineDeployments(target, ref);
    let members = this.observe(ref, mds);
    const notes: ConditionInput[] = [];

    if (!spec.paused || deleting) {
      await this.markVictims(ref, members, desired);
      members = this.observe(ref, await this.machineDeployments(target, ref));
      for (const m of members) {
        try {
          if (m.releasing) await this.deprovision(pool, ref, spec, target, m);
          else await this.progress(pool, ref, spec, target, m, members);
        } catch (err) {
          m.lastError = err instanceof Error ? err.message : String(err);
          this.d.log.warn(
            { pool: ref.name, hardware: m.hw.metadata.name, err: m.lastError },
            "member step failed",
          );
          notes.push({
            type: "Degraded",
            status: "True",
            reason: "MemberError",
            message: `${m.hw.metadata.name}: ${m.lastError}`,
          });
        }
      }
      const active = members.filter((m) => !m.releasing).length;
      if (!deleting && active < desired) await this.claimMore(pool, ref, spec, members, desired - active);
      members = this.observe(ref, await this.machineDeployments(target, ref));
    }

    if (deleting && members.length === 0) {
      await this.d.client.patch(
        POOL,
        ref.namespace,
        ref.name,
        {
          metadata: {
            finalizers: (pool.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
            resourceVersion: pool.metadata.resourceVersion,
          },
        },
        "merge",
      );
      return {};
    }
    const available = this.available(pool, spec);
    const conditions = this.conditions(spec, members, desired, available, notes, deleting);
    await this.writeStatus(pool, members, conditions, available.length);
    this.d.observe?.(pool, members);
    const busy = members.some((m) => PROGRESSING_PHASES.has(m.phase)) || members.length !== desired;
    return { requeueAfterMs: busy ? 5_000 : 60_000 };
  }

  // ---- 2. look -------------------------------------------------------------------------------------

  private async machineDeployments(
    target: TargetCluster,
    ref: PoolRef,
  ): Promise<Map<string, MachineDeployment>> {
    const list = await target.client.list<MachineDeployment>(MACHINE_DEPLOYMENT, target.namespace, {
      labelSelector: `${LABEL.poolUID}=${ref.uid}`,
    });
    return new Map(list.items.map((md) => [md.metadata.labels?.[LABEL.hardware] ?? "", md]));
  }

  private observe(ref: PoolRef, mds: Map<string, MachineDeployment>): MemberView[] {
    const claimed = this.d.hardware
      .list()
      .filter(
        (hw) => hw.metadata.namespace === ref.namespace && hw.metadata.labels?.[LABEL.poolUID] === ref.uid,
      );
    return claimed
      .map((hw) => this.memberView(ref, hw, mds.get(hw.metadata.name ?? "")))
      .sort((a, b) => (a.hw.metadata.name ?? "").localeCompare(b.hw.metadata.name ?? ""));
  }

  private memberView(ref: PoolRef, hw: Hardware, md: MachineDeployment | undefined): MemberView {
    const name = hw.metadata.name ?? "";
    const related = this.d.workflows
      .list()
      .filter((wf) => wf.metadata.namespace === hw.metadata.namespace)
      .filter(
        (wf) =>
          (wf.metadata.labels?.[LABEL.poolUID] === ref.uid &&
            wf.metadata.labels?.[LABEL.hardware] === name) ||
          wf.metadata.labels?.[LABEL.mcHardwareRef] === name,
      );
    const wipe = related.find((wf) => wf.metadata.labels?.[LABEL.purpose] === "wipe");
    const workflows = related
      .filter((wf) => wf !== wipe)
      .sort(
        (a, b) =>
          attemptOf(a) - attemptOf(b) ||
          (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""),
      );
    const attempt = Math.max(
      0,
      Number(hw.metadata.annotations?.[ANNOTATION.attempts] ?? 0),
      Number(md?.metadata.annotations?.[LABEL.attempt] ?? 0),
      ...workflows.map(attemptOf),
    );
    const releasing = Boolean(hw.metadata.annotations?.[ANNOTATION.releasing]);
    const view: MemberView = { hw, md, workflows, wipe, attempt, releasing, phase: "Claimed" };
    view.phase = this.phaseOf(view);
    return view;
  }

  private phaseOf(m: MemberView): MemberPhase {
    if (m.releasing) return "Deprovisioning";
    const latest = m.workflows.at(-1);
    const state = workflowState(latest);
    if (state === "SUCCESS") return "Ready";
    if (state && TERMINAL_FAILURE.has(state)) return "Failed";
    if (latest) return "Provisioning";
    return "Claimed";
  }

  // ---- 3. shrink -----------------------------------------------------------------------------------

  /** Victims, in order: marked by a person, failed, not ready, then newest claim. */
  private async markVictims(ref: PoolRef, members: MemberView[], desired: number): Promise<void> {
    const active = members.filter((m) => !m.releasing);
    const excess = active.length - desired;
    if (excess <= 0) return;
    const rank = (m: MemberView): number =>
      m.hw.metadata.annotations?.[ANNOTATION.deletePreferred] === "true"
        ? 0
        : m.phase === "Failed"
          ? 1
          : m.phase !== "Ready"
            ? 2
            : 3;
    const claimedAt = (m: MemberView): string => m.hw.metadata.annotations?.[ANNOTATION.claimedAt] ?? "";
    const victims = [...active]
      .sort(
        (a, b) =>
          rank(a) - rank(b) ||
          claimedAt(b).localeCompare(claimedAt(a)) ||
          (a.hw.metadata.name ?? "").localeCompare(b.hw.metadata.name ?? ""),
      )
      .slice(0, excess);
    for (const v of victims) {
      const updated = await markReleasing(this.d.client, v.hw, ref, this.d.now());
      this.cacheWrite(updated);
    }
  }

  private async deprovision(
    pool: PoolObject,
    ref: PoolRef,
    spec: BaremetalPoolSpec,
    target: TargetCluster,
    m: MemberView,
  ): Promise<void> {
    const name = m.hw.metadata.name ?? "";
    if (m.md) {
      await target.client.delete(MACHINE_DEPLOYMENT, target.namespace, m.md.metadata.name ?? "", {
        uid: m.md.metadata.uid,
      });
      return; // wait until machine-controller has let go of the server
    }
    for (const wf of m.workflows)
      await this.d.client.delete(WORKFLOW, wf.metadata.namespace, wf.metadata.name ?? "", {
        uid: wf.metadata.uid,
      });
    const mode = spec.provisioning.wipeMode;
    if (mode !== "None") {
      if (!m.wipe) {
        await assertClaimed(this.d.client, m.hw, ref);
        const timeout = parseDuration(spec.provisioning.attemptTimeout) / 1000;
        await this.ensure(TEMPLATE, buildWipeTemplate(ref.namespace, mode, timeout));
        await this.startWorkflow(spec, ref, m.hw, "wipe", 0, wipeTemplateName(mode));
        return;
      }
      const state = workflowState(m.wipe);
      const timedOut = this.ageMs(m.wipe) > parseDuration(spec.provisioning.attemptTimeout);
      if (state && TERMINAL_FAILURE.has(state))
        return this.quarantineMember(
          pool,
          ref,
          target,
          m,
          `wipe failed (${state}): ${workflowError(m.wipe)}`,
        );
      if (timedOut && state !== "SUCCESS")
        return this.quarantineMember(
          pool,
          ref,
          target,
          m,
          `wipe did not finish within ${spec.provisioning.attemptTimeout}`,
        );
      if (state !== "SUCCESS") return;
      await this.d.client.delete(WORKFLOW, m.wipe.metadata.namespace, m.wipe.metadata.name ?? "", {
        uid: m.wipe.metadata.uid,
      });
    }
    this.cacheWrite(await release(this.d.client, m.hw, ref));
    m.phase = "Released";
    this.d.event(pool, "Normal", "Released", `released Hardware ${name} (wipe: ${mode})`);
  }

  private async quarantineMember(
    pool: PoolObject,
    ref: PoolRef,
    target: TargetCluster,
    m: MemberView,
    reason: string,
  ): Promise<void> {
    if (m.md)
      await target.client.delete(MACHINE_DEPLOYMENT, target.namespace, m.md.metadata.name ?? "", {
        uid: m.md.metadata.uid,
      });
    for (const wf of [...m.workflows, ...(m.wipe ? [m.wipe] : [])])
      await this.d.client.delete(WORKFLOW, wf.metadata.namespace, wf.metadata.name ?? "", {
        uid: wf.metadata.uid,
      });
    this.cacheWrite(await quarantine(this.d.client, m.hw, ref, reason));
    m.phase = "Quarantined";
    m.lastError = reason;
    this.d.event(pool, "Warning", "Quarantined", `quarantined Hardware ${m.hw.metadata.name}: ${reason}`);
  }

  // ---- 4. progress ---------------------------------------------------------------------------------

  private async progress(
    pool: PoolObject,
    ref: PoolRef,
    spec: BaremetalPoolSpec,
    target: TargetCluster,
    m: MemberView,
    all: MemberView[],
  ): Promise<void> {
    const prov = spec.provisioning;
    const latest = m.workflows.at(-1);
    const state = workflowState(latest);
    const timeoutMs = parseDuration(prov.attemptTimeout);
    if (
      latest &&
      state !== "SUCCESS" &&
      !(state && TERMINAL_FAILURE.has(state)) &&
      this.ageMs(latest) > timeoutMs
    ) {
      return this.failAttempt(
        pool,
        ref,
        spec,
        target,
        m,
        latest,
        `attempt ${m.attempt} did not finish within ${prov.attemptTimeout}`,
      );
    }
    if (latest && state && TERMINAL_FAILURE.has(state)) {
      return this.failAttempt(
        pool,
        ref,
        spec,
        target,
        m,
        latest,
        `attempt ${m.attempt} ${state}: ${workflowError(latest)}`,
      );
    }
    if (!m.md) {
      const attempt = Math.max(
        1,
        m.attempt + (prov.workflowOwner === "MachineController" && m.attempt > 0 && !latest ? 1 : 0),
      );
      await target.client
        .create(MACHINE_DEPLOYMENT, buildMachineDeployment(ref, spec, m.hw, target.namespace, attempt))
        .catch(ignoreExists);
      if (m.attempt === 0)
        this.d.event(
          pool,
          "Normal",
          "MachineDeploymentCreated",
          `created MachineDeployment for Hardware ${m.hw.metadata.name}`,
        );
    }
    if (latest) return this.ensurePowered(spec, ref, m, latest);
    // No Workflow yet: start one when a provisioning slot is free.
    const inFlight = all.filter((x) => x.phase === "Provisioning").length;
    if (inFlight >= prov.maxConcurrent) return;
    if (prov.power === "TinkerbellBMC" && !m.hw.spec.bmcRef) {
      throw new Error(
        `Hardware ${m.hw.metadata.name} has no spec.bmcRef; add a bmc.tinkerbell.org Machine or set provisioning.power`,
      );
    }
    if (prov.workflowOwner === "MachineController") return; // machine-controller creates it; we power on once it exists
    if (!this.retryDue(m, spec)) return;
    const template = prov.templateRef ?? provisionTemplateName(ref.name);
    if (!prov.templateRef)
      await this.ensure(TEMPLATE, buildProvisionTemplate(ref.name, ref.namespace, spec, timeoutMs / 1000));
    await assertClaimed(this.d.client, m.hw, ref);
    const wf = await this.startWorkflow(spec, ref, m.hw, "provision", m.attempt + 1, template);
    m.phase = "Provisioning";
    this.d.event(
      pool,
      "Normal",
      "Provisioning",
      `attempt ${m.attempt + 1} on Hardware ${m.hw.metadata.name}: Workflow ${wf.metadata.name}`,
    );
  }

  private retryDue(m: MemberView, spec: BaremetalPoolSpec): boolean {
    const failed = m.workflows.at(-1);
    if (!failed || m.attempt === 0) return true;
    return (
      this.ageMs(failed, true) >= this.d.retryBackoffMs * 2 ** (m.attempt - 1) ||
      spec.provisioning.maxAttempts <= m.attempt
    );
  }

  private async failAttempt(
    pool: PoolObject,
    ref: PoolRef,
    spec: BaremetalPoolSpec,
    target: TargetCluster,
    m: MemberView,
    wf: Workflow,
    message: string,
  ): Promise<void> {
    m.lastError = message;
    if (m.attempt >= spec.provisioning.maxAttempts) {
      return this.quarantineMember(
        pool,
        ref,
        target,
        m,
        `${spec.provisioning.maxAttempts} provisioning attempts failed; last: ${message}`,
      );
    }
    this.d.event(
      pool,
      "Warning",
      "ProvisioningFailed",
      `Hardware ${m.hw.metadata.name}: ${message}; will retry`,
    );
    if (spec.provisioning.workflowOwner === "MachineController") {
      // Retrying means a new Machine: remember the attempt (no Machine provisions now), then replace the MachineDeployment.
      await this.d.client.patch(
        WORKFLOW,
        wf.metadata.namespace,
        wf.metadata.name ?? "",
        { metadata: { labels: { [LABEL.attempt]: String(m.attempt) } } },
        "merge",
      );
      if (m.md)
        await target.client.delete(MACHINE_DEPLOYMENT, target.namespace, m.md.metadata.name ?? "", {
          uid: m.md.metadata.uid,
        });
      return;
    }
    if (!this.retryDue(m, spec)) return;
    const template = spec.provisioning.templateRef ?? provisionTemplateName(ref.name);
    await assertClaimed(this.d.client, m.hw, ref);
    await this.startWorkflow(spec, ref, m.hw, "provision", m.attempt + 1, template);
    // The new attempt exists before the old one goes, so the attempt count survives a crash here.
    await this.d.client.delete(WORKFLOW, wf.metadata.namespace, wf.metadata.name ?? "", {
      uid: wf.metadata.uid,
    });
  }

  private async startWorkflow(
    spec: BaremetalPoolSpec,
    ref: PoolRef,
    hw: Hardware,
    purpose: WorkflowPurpose,
    attempt: number,
    template: string,
  ): Promise<Workflow> {
    const viaBmc = spec.provisioning.power === "TinkerbellBMC" && Boolean(hw.spec.bmcRef);
    const wf = buildWorkflow({
      hw,
      poolUID: ref.uid,
      poolName: ref.name,
      template,
      purpose,
      attempt,
      netbootViaBmc: viaBmc,
    });
    const created = await this.ensure(WORKFLOW, wf);
    this.d.workflows.get(created.metadata.namespace, created.metadata.name ?? "") ??
      this.cacheWorkflow(created);
    await this.ensurePowered(spec, ref, { hw }, created);
    return created;
  }

  /** Asks for the one-time PXE boot once per Workflow, unless tink-controller does it (bootOptions). */
  private async ensurePowered(
    spec: BaremetalPoolSpec,
    ref: PoolRef,
    m: Pick<MemberView, "hw">,
    wf: Workflow,
  ): Promise<void> {
    const mode = spec.provisioning.power;
    if (
      mode === "Manual" ||
      wf.spec.bootOptions?.bootMode === "netboot" ||
      wf.metadata.annotations?.[ANNOTATION.powerRequested]
    )
      return;
    const state = workflowState(wf);
    if (state && state !== "PENDING" && state !== "PREPARING") return;
    const hw = await assertClaimed(this.d.client, m.hw, ref);
    await this.d.power(mode).netbootOnce(hw, wf.metadata.name ?? "");
    await this.d.client.patch(
      WORKFLOW,
      wf.metadata.namespace,
      wf.metadata.name ?? "",
      { metadata: { annotations: { [ANNOTATION.powerRequested]: this.d.now().toISOString() } } },
      "merge",
    );
  }

  // ---- 5. grow -------------------------------------------------------------------------------------

  private available(pool: PoolObject, spec: BaremetalPoolSpec): Hardware[] {
    return this.d.hardware
      .list()
      .filter((hw) => hw.metadata.namespace === pool.metadata.namespace && isEligible(hw, spec));
  }

  private async claimMore(
    pool: PoolObject,
    ref: PoolRef,
    spec: BaremetalPoolSpec,
    members: MemberView[],
    count: number,
  ): Promise<void> {
    const chosen = chooseHardware(
      this.available(pool, spec),
      members.map((m) => m.hw),
      spec,
      count,
    );
    for (const hw of chosen) {
      const claimed = await claim(this.d.client, hw, ref, this.d.now());
      if (!claimed) continue; // someone else wrote first; the next pass sees the new state
      this.cacheWrite(claimed);
      this.d.event(pool, "Normal", "Claimed", `claimed Hardware ${hw.metadata.name}`);
    }
  }

  // ---- 6. report -----------------------------------------------------------------------------------

  private conditions(
    spec: BaremetalPoolSpec,
    members: MemberView[],
    desired: number,
    available: Hardware[],
    notes: ConditionInput[],
    deleting: boolean,
  ): ConditionInput[] {
    const active = members.filter((m) => !m.releasing);
    const ready = active.filter((m) => m.phase === "Ready").length;
    const shortage = Math.max(0, desired - active.length);
    const progressing = members.some((m) => PROGRESSING_PHASES.has(m.phase));
    const failed = active.filter((m) => m.phase === "Failed");
    const out: ConditionInput[] = [];
    out.push(
      ready === desired && members.length === desired
        ? { type: "Ready", status: "True", reason: "AllReady", message: `${ready}/${desired} servers ready` }
        : {
            type: "Ready",
            status: "False",
            reason: deleting
              ? "Deleting"
              : spec.paused
                ? "Paused"
                : shortage > 0
                  ? "HardwareShortage"
                  : "Provisioning",
            message: `${ready}/${desired} servers ready`,
          },
    );
    out.push(
      progressing
        ? { type: "Progressing", status: "True", reason: "MembersChanging", message: summarize(members) }
        : { type: "Progressing", status: "False", reason: "Stable", message: summarize(members) },
    );
    const degraded =
      notes[0] ??
      (failed.length
        ? {
            type: "Degraded" as const,
            status: "True" as const,
            reason: "ProvisioningFailed",
            message: failed.map((m) => `${m.hw.metadata.name}: ${m.lastError ?? "failed"}`).join("; "),
          }
        : undefined);
    out.push(degraded ?? { type: "Degraded", status: "False", reason: "AsExpected", message: "" });
    out.push(
      shortage > 0 && !spec.paused
        ? {
            type: "HardwareShortage",
            status: "True",
            reason: "NotEnoughEligibleHardware",
            message: `need ${shortage} more server(s); ${this.shortageDetail(spec, available)}`,
          }
        : { type: "HardwareShortage", status: "False", reason: "Enough", message: "" },
    );
    return out;
  }

  /** Why matching Hardware is not eligible, counted by reason, so a person knows what to fix. */
  private shortageDetail(spec: BaremetalPoolSpec, available: Hardware[]): string {
    const reasons = new Map<string, number>();
    const selected = this.d.hardware
      .list()
      .filter((hw) => matchesSelector(hw.metadata.labels, spec.hardwareSelector));
    for (const hw of selected) {
      const gaps = [
        ...availabilityGaps(hw),
        ...requirementGaps(hw, spec.requirements),
        ...provisionabilityGaps(hw),
      ];
      const first = gaps[0]?.replace(/^claimed by pool .*/, "claimed by another pool");
      if (first) reasons.set(first, (reasons.get(first) ?? 0) + 1);
    }
    const detail = [...reasons].map(([r, n]) => `${n} ${r}`).join(", ");
    return `${available.length} eligible, ${selected.length} match the selector${detail ? ` (${detail})` : ""}`;
  }

  private async writeStatus(
    pool: PoolObject,
    members: MemberView[],
    conditions: ConditionInput[],
    available: number,
  ): Promise<void> {
    const now = this.d
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
    const previous = pool.status;
    const memberStatus: Member[] = members.map((m) => {
      const old = previous?.members?.find((p) => p.hardware === m.hw.metadata.name);
      const item: Member = {
        hardware: m.hw.metadata.name ?? "",
        phase: m.phase,
        since: old && old.phase === m.phase ? old.since : now,
        attempts: m.attempt,
        ...(m.md?.metadata.name ? { machineDeployment: m.md.metadata.name } : {}),
        ...(m.lastError
          ? { lastError: m.lastError.slice(0, 4096) }
          : old?.lastError && old.phase === m.phase
            ? { lastError: old.lastError }
            : {}),
      };
      return item;
    });
    const active = members.filter((m) => !m.releasing);
    const status = {
      observedGeneration: pool.metadata.generation ?? 0,
      replicas: active.length,
      readyReplicas: active.filter((m) => m.phase === "Ready").length,
      provisioningReplicas: active.filter((m) => m.phase === "Provisioning" || m.phase === "Claimed").length,
      failedReplicas: active.filter((m) => m.phase === "Failed").length,
      availableHardware: available,
      conditions: mergeConditions(previous?.conditions, conditions, pool.metadata.generation ?? 0, now),
      members: memberStatus,
    };
    if (JSON.stringify(status) === JSON.stringify(previous ?? {})) return; // nothing changed: no write
    await this.d.client.apply(
      POOL,
      {
        apiVersion: "metalpool.io/v1alpha1",
        kind: "BaremetalPool",
        metadata: { name: pool.metadata.name, namespace: pool.metadata.namespace },
        status,
      } as PoolObject,
      FIELD_MANAGER,
      "status",
    );
  }

  // ---- helpers -------------------------------------------------------------------------------------

  private async ensure<T extends Workflow | import("../../lib/api/tinkerbell.ts").Template>(
    type: ResourceType,
    obj: T,
  ): Promise<T> {
    try {
      return await this.d.client.create(type, obj);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      return this.d.client.get<T>(type, obj.metadata.namespace, obj.metadata.name ?? "");
    }
  }

  private ageMs(obj: Workflow, sinceFinished = false): number {
    const finished = sinceFinished
      ? obj.status?.conditions
          ?.map((c) => c.time ?? "")
          .sort()
          .at(-1)
      : undefined;
    const from = Date.parse(finished || obj.metadata.creationTimestamp || "") || this.d.now().getTime();
    return this.d.now().getTime() - from;
  }

  /** Our own writes are visible before the watch delivers them, so one pass never acts on stale state. */
  private cacheWrite(hw: Hardware): void {
    this.d.hardware.upsertLocal?.(hw);
  }

  private cacheWorkflow(wf: Workflow): Workflow {
    this.d.workflows.upsertLocal?.(wf);
    return wf;
  }
}

function attemptOf(wf: Workflow): number {
  const n = Number(wf.metadata.labels?.[LABEL.attempt]);
  return Number.isFinite(n) ? n : 0;
}

function workflowError(wf: Workflow): string {
  const failedAction = wf.status?.tasks
    ?.flatMap((t) => t.actions ?? [])
    .find((a) => a.state && TERMINAL_FAILURE.has(a.state.replace(/^STATE_/, "")));
  const condition = wf.status?.conditions?.find(
    (c) => c.status === "False" || /fail|timeout/i.test(c.reason ?? ""),
  );
  return failedAction
    ? `action ${failedAction.name}: ${failedAction.message ?? failedAction.state}`
    : (condition?.message ?? wf.status?.state ?? "unknown");
}

function summarize(members: MemberView[]): string {
  const counts = new Map<string, number>();
  for (const m of members) counts.set(m.phase, (counts.get(m.phase) ?? 0) + 1);
  return [...counts].map(([p, n]) => `${n} ${p}`).join(", ") || "no members";
}

function ignoreExists(err: unknown): void {
  if (!isAlreadyExists(err)) throw err;
}
