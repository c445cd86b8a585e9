/**
 * Look: one complete, read-only view of a pool per pass. Hardware and Workflows come from the caches; the
 * target cluster's MachineDeployments and Machines are listed once each. Nothing is read after this.
 */
import type { BaremetalPoolSpec, PoolRef } from "../../lib/api/baremetalpool.ts";
import { ANNOTATION, LABEL } from "../../lib/api/labels.ts";
import { MACHINE, MACHINE_DEPLOYMENT, type MachineDeployment } from "../../lib/api/machine-controller.ts";
import { matchesSelector } from "../../lib/api/selector.ts";
import { workflowState, type Hardware, type Workflow } from "../../lib/api/tinkerbell.ts";
import { isNotFound, type KubeObject } from "../../lib/kube/rest.ts";
import type { ReconcilerDeps, TargetCluster } from "./deps.ts";
import { phaseOf } from "./phase.ts";
import { isEligible } from "./select.ts";
import type { MemberView, PoolObject, PoolView } from "./types.ts";

export interface TargetObjects {
  mds: Map<string, MachineDeployment>;
  machines: Map<string, number>;
  /** False when the target cluster does not serve MachineDeployments at all (no machine-controller CRDs). */
  mdServed: boolean;
}

/** The pool's MachineDeployments and Machines in its target cluster, by Hardware name; throws if unreachable. */
export async function lookAtTarget(target: TargetCluster, ref: PoolRef): Promise<TargetObjects> {
  const labelSelector = `${LABEL.poolUID}=${ref.uid}`;
  let items: MachineDeployment[] = [];
  let mdServed = true;
  try {
    items = (
      await target.client.list<MachineDeployment>(MACHINE_DEPLOYMENT, target.namespace, { labelSelector })
    ).items;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    mdServed = false; // an operator-owned pool needs none; a machine-controller pool is told in its status
  }
  const mds = new Map(items.map((md) => [md.metadata.labels?.[LABEL.hardware] ?? "", md]));
  const machines = new Map<string, number>();
  try {
    const ms = await target.client.list<KubeObject>(MACHINE, target.namespace, { labelSelector });
    for (const m of ms.items) {
      const hw = m.metadata.labels?.[LABEL.hardware] ?? "";
      machines.set(hw, (machines.get(hw) ?? 0) + 1);
    }
  } catch (err) {
    if (!isNotFound(err)) throw err; // no Machine kind there: nothing can be holding a server
  }
  return { mds, machines, mdServed };
}

export function attemptOf(wf: Workflow): number {
  const n = Number(wf.metadata.labels?.[LABEL.attempt]);
  return Number.isFinite(n) ? n : 0;
}

/** Workflows of one namespace grouped by the Hardware they are for (ours by label, machine-controller's by its label). */
function workflowsByHardware(d: ReconcilerDeps, ref: PoolRef): Map<string, Workflow[]> {
  const out = new Map<string, Workflow[]>();
  for (const wf of d.workflows.list()) {
    if (wf.metadata.namespace !== ref.namespace) continue;
    const labels = wf.metadata.labels ?? {};
    const ours = labels[LABEL.poolUID] === ref.uid ? labels[LABEL.hardware] : undefined;
    const name = ours ?? (labels[LABEL.poolUID] ? undefined : labels[LABEL.mcHardwareRef]);
    if (!name) continue;
    const list = out.get(name) ?? [];
    list.push(wf);
    out.set(name, list);
  }
  return out;
}

function memberView(
  hw: Hardware,
  related: readonly Workflow[],
  target: TargetObjects,
  spec: BaremetalPoolSpec,
): MemberView {
  const name = hw.metadata.name ?? "";
  const md = target.mds.get(name);
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
    Number(hw.metadata.annotations?.[ANNOTATION.attempts] ?? 0) || 0,
    Number(md?.metadata.annotations?.[LABEL.attempt] ?? 0) || 0,
    ...workflows.map(attemptOf),
  );
  const releasing = Boolean(hw.metadata.annotations?.[ANNOTATION.releasing]);
  const machineControllerOwns = spec.provisioning.workflowOwner === "MachineController";
  const lastError = hw.metadata.annotations?.[ANNOTATION.lastError];
  return {
    hw,
    md,
    machines: target.machines.get(name) ?? 0,
    workflows,
    wipe,
    attempt,
    releasing,
    phase: phaseOf({ releasing, machineControllerOwns, md, workflows, attempt }),
    ...(lastError ? { lastError } : {}),
  };
}

const FINISHED = new Set(["SUCCESS", "FAILED", "TIMEOUT"]);

/**
 * Hardware another provisioner still acts on: an unfinished Workflow names it (an orphan, or someone
 * else's), a MachineDeployment of another pool does, or a bmc Job rufio has not run yet will power its BMC.
 * None of it may be claimed, whatever its labels say.
 */
function inUse(d: ReconcilerDeps, ref: PoolRef): Set<string> {
  const busy = new Set(d.machineDeploymentHardware?.(ref.namespace, ref.uid) ?? []);
  for (const wf of d.workflows.list()) {
    if (wf.metadata.namespace !== ref.namespace || !wf.spec.hardwareRef) continue;
    const state = workflowState(wf);
    if (!state || !FINISHED.has(state)) busy.add(wf.spec.hardwareRef);
  }
  for (const name of behindBusyBmc(d, ref.namespace)) busy.add(name);
  return busy;
}

/** Hardware (by name) whose bmc Machine a bmc Job rufio has not finished yet will act on. */
function behindBusyBmc(d: ReconcilerDeps, namespace: string): string[] {
  const machines = new Set(d.busyBmcMachines?.(namespace) ?? []);
  if (!machines.size) return [];
  return d.hardware
    .list()
    .filter((hw) => hw.metadata.namespace === namespace && machines.has(hw.spec.bmcRef?.name ?? ""))
    .map((hw) => hw.metadata.name ?? "");
}

export function look(
  d: ReconcilerDeps,
  pool: PoolObject,
  ref: PoolRef,
  spec: BaremetalPoolSpec,
  target: TargetObjects,
): PoolView {
  const inNamespace = d.hardware.list().filter((hw) => hw.metadata.namespace === ref.namespace);
  const byHardware = workflowsByHardware(d, ref);
  const busy = inUse(d, ref);
  const members = inNamespace
    .filter((hw) => hw.metadata.labels?.[LABEL.poolUID] === ref.uid)
    .map((hw) => memberView(hw, byHardware.get(hw.metadata.name ?? "") ?? [], target, spec))
    .sort((a, b) => (a.hw.metadata.name ?? "").localeCompare(b.hw.metadata.name ?? ""));
  return {
    pool,
    ref,
    spec,
    deleting: Boolean(pool.metadata.deletionTimestamp),
    members,
    eligible: inNamespace.filter((hw) => isEligible(hw, spec) && !busy.has(hw.metadata.name ?? "")),
    selected: inNamespace.filter((hw) => matchesSelector(hw.metadata.labels, spec.hardwareSelector)),
    retryBackoffMs: d.retryBackoffMs,
  };
}
