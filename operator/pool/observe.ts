/** Step 2, look: the pool's members as the world shows them, each with a phase derived from its objects. */
import type { MemberPhase } from "../../lib/api/baremetalpool.ts";
import { ANNOTATION, LABEL } from "../../lib/api/labels.ts";
import { MACHINE, MACHINE_DEPLOYMENT, type MachineDeployment } from "../../lib/api/machine-controller.ts";
import { workflowState, type Hardware, type Workflow } from "../../lib/api/tinkerbell.ts";
import { isNotFound, type KubeObject } from "../../lib/kube/rest.ts";
import type { Pass, ReconcilerDeps, TargetCluster } from "./pass.ts";
import type { MemberView } from "./types.ts";
import type { PoolRef } from "../provision/machine-deployment.ts";

export const TERMINAL_FAILURE = new Set(["FAILED", "TIMEOUT"]);

export function attemptOf(wf: Workflow): number {
  const n = Number(wf.metadata.labels?.[LABEL.attempt]);
  return Number.isFinite(n) ? n : 0;
}

export async function machineDeployments(
  target: TargetCluster,
  ref: PoolRef,
): Promise<Map<string, MachineDeployment>> {
  const list = await target.client.list<MachineDeployment>(MACHINE_DEPLOYMENT, target.namespace, {
    labelSelector: `${LABEL.poolUID}=${ref.uid}`,
  });
  return new Map(list.items.map((md) => [md.metadata.labels?.[LABEL.hardware] ?? "", md]));
}

/** Machines machine-controller still holds for a server (they outlive a deleted MachineDeployment briefly). */
export async function machinesFor(p: Pass, hw: Hardware): Promise<KubeObject[]> {
  try {
    const list = await p.target.client.list<KubeObject>(MACHINE, p.target.namespace, {
      labelSelector: `${LABEL.poolUID}=${p.ref.uid},${LABEL.hardware}=${hw.metadata.name}`,
    });
    return list.items;
  } catch (err) {
    if (isNotFound(err)) return []; // no Machine kind in that cluster: nothing can be holding the server
    throw err;
  }
}

export function observeMembers(
  d: ReconcilerDeps,
  ref: PoolRef,
  mds: Map<string, MachineDeployment>,
): MemberView[] {
  return d.hardware
    .list()
    .filter(
      (hw) => hw.metadata.namespace === ref.namespace && hw.metadata.labels?.[LABEL.poolUID] === ref.uid,
    )
    .map((hw) => memberView(d, ref, hw, mds.get(hw.metadata.name ?? "")))
    .sort((a, b) => (a.hw.metadata.name ?? "").localeCompare(b.hw.metadata.name ?? ""));
}

function relatedWorkflows(d: ReconcilerDeps, ref: PoolRef, hw: Hardware): Workflow[] {
  const name = hw.metadata.name ?? "";
  return d.workflows
    .list()
    .filter((wf) => wf.metadata.namespace === hw.metadata.namespace)
    .filter((wf) => {
      const labels = wf.metadata.labels ?? {};
      return (
        (labels[LABEL.poolUID] === ref.uid && labels[LABEL.hardware] === name) ||
        labels[LABEL.mcHardwareRef] === name
      );
    });
}

function memberView(
  d: ReconcilerDeps,
  ref: PoolRef,
  hw: Hardware,
  md: MachineDeployment | undefined,
): MemberView {
  const related = relatedWorkflows(d, ref, hw);
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
  view.phase = phaseOf(view);
  return view;
}

/**
 * Whether the Node is up, where that is visible: machine-controller reports it in the MachineDeployment's
 * status once it manages it. Without a status (no machine-controller watching), the Workflow's SUCCESS is
 * the best signal there is.
 */
function nodeReady(md: MachineDeployment | undefined): boolean {
  if (!md?.status || md.status.replicas === undefined) return true;
  return (md.status.readyReplicas ?? 0) >= 1;
}

function phaseOf(m: MemberView): MemberPhase {
  if (m.releasing) return "Deprovisioning";
  const latest = m.workflows.at(-1);
  const state = workflowState(latest);
  if (state === "SUCCESS") return nodeReady(m.md) ? "Ready" : "Provisioning";
  if (state && TERMINAL_FAILURE.has(state)) return "Failed";
  if (latest) return "Provisioning";
  return "Claimed";
}
