/**
 * Step 3, shrink: choose victims when the pool has more members than it wants, and take each through
 * deprovisioning — delete its MachineDeployment, wait for it to go, wipe per the pool's wipe mode, and only
 * then release the Hardware. A failed wipe quarantines the server rather than hand out a dirty disk.
 */
import { ANNOTATION } from "../../lib/api/labels.ts";
import { MACHINE_DEPLOYMENT } from "../../lib/api/machine-controller.ts";
import { parseDuration } from "../../lib/api/quantity.ts";
import { TEMPLATE, WORKFLOW, workflowState } from "../../lib/api/tinkerbell.ts";
import { buildWipeTemplate, wipeTemplateName } from "../provision/template.ts";
import { assertClaimed, markReleasing, quarantine, release } from "./hardware-writes.ts";
import { TERMINAL_FAILURE, machinesFor } from "./observe.ts";
import { ensureObject, type Pass } from "./pass.ts";
import { startWorkflow, workflowAgeMs, workflowError } from "./workflows.ts";
import type { MemberView } from "./types.ts";

/** Victims, in order: marked by a person, failed, not ready, then the newest claim. */
export function chooseVictims(members: MemberView[], desired: number): MemberView[] {
  const active = members.filter((m) => !m.releasing);
  const excess = active.length - desired;
  if (excess <= 0) return [];
  const rank = (m: MemberView): number =>
    m.hw.metadata.annotations?.[ANNOTATION.deletePreferred] === "true"
      ? 0
      : m.phase === "Failed"
        ? 1
        : m.phase !== "Ready"
          ? 2
          : 3;
  const claimedAt = (m: MemberView): string => m.hw.metadata.annotations?.[ANNOTATION.claimedAt] ?? "";
  return [...active]
    .sort(
      (a, b) =>
        rank(a) - rank(b) ||
        claimedAt(b).localeCompare(claimedAt(a)) ||
        (a.hw.metadata.name ?? "").localeCompare(b.hw.metadata.name ?? ""),
    )
    .slice(0, excess);
}

export async function markVictims(p: Pass, members: MemberView[], desired: number): Promise<void> {
  for (const victim of chooseVictims(members, desired)) {
    p.d.hardware.upsertLocal(await markReleasing(p.d.client, victim.hw, p.ref, p.d.now()));
  }
}

export async function deprovision(p: Pass, m: MemberView): Promise<void> {
  if (m.md) {
    await p.target.client.delete(MACHINE_DEPLOYMENT, p.target.namespace, m.md.metadata.name ?? "", {
      uid: m.md.metadata.uid,
    });
    return; // wait until machine-controller has let go of the server
  }
  // machine-controller still deleting the Machine writes to the Hardware (Decommissioned): let it finish
  // first, or it would undo the release.
  if ((await machinesFor(p, m.hw)).length > 0) return;
  for (const wf of m.workflows) {
    await p.d.client.delete(WORKFLOW, wf.metadata.namespace, wf.metadata.name ?? "", {
      uid: wf.metadata.uid,
    });
  }
  const mode = p.spec.provisioning.wipeMode;
  if (mode !== "None") {
    const wiped = await wipe(p, m, mode);
    if (!wiped) return;
  }
  p.d.hardware.upsertLocal(await release(p.d.client, m.hw, p.ref));
  m.phase = "Released";
  p.d.event(p.pool, "Normal", "Released", `released Hardware ${m.hw.metadata.name} (wipe: ${mode})`);
}

/** Drives the wipe Workflow; true once it succeeded (and is cleaned up). */
async function wipe(p: Pass, m: MemberView, mode: "Metadata" | "Full"): Promise<boolean> {
  if (!m.wipe) {
    await assertClaimed(p.d.client, m.hw, p.ref);
    const timeoutSeconds = parseDuration(p.spec.provisioning.attemptTimeout) / 1000;
    await ensureObject(p.d.client, TEMPLATE, buildWipeTemplate(p.ref.namespace, mode, timeoutSeconds));
    await startWorkflow(p, m.hw, "wipe", 0, wipeTemplateName(mode));
    return false;
  }
  const state = workflowState(m.wipe);
  if (state && TERMINAL_FAILURE.has(state)) {
    await quarantineMember(p, m, `wipe failed (${state}): ${workflowError(m.wipe)}`);
    return false;
  }
  if (state !== "SUCCESS") {
    if (workflowAgeMs(p, m.wipe) > parseDuration(p.spec.provisioning.attemptTimeout)) {
      await quarantineMember(p, m, `wipe did not finish within ${p.spec.provisioning.attemptTimeout}`);
    }
    return false;
  }
  await p.d.client.delete(WORKFLOW, m.wipe.metadata.namespace, m.wipe.metadata.name ?? "", {
    uid: m.wipe.metadata.uid,
  });
  return true;
}

/** Takes a server out of service: its objects are deleted, the claim dropped, the reason recorded. */
export async function quarantineMember(p: Pass, m: MemberView, reason: string): Promise<void> {
  if (m.md) {
    await p.target.client.delete(MACHINE_DEPLOYMENT, p.target.namespace, m.md.metadata.name ?? "", {
      uid: m.md.metadata.uid,
    });
  }
  for (const wf of [...m.workflows, ...(m.wipe ? [m.wipe] : [])]) {
    await p.d.client.delete(WORKFLOW, wf.metadata.namespace, wf.metadata.name ?? "", {
      uid: wf.metadata.uid,
    });
  }
  p.d.hardware.upsertLocal(await quarantine(p.d.client, m.hw, p.ref, reason));
  m.phase = "Quarantined";
  m.lastError = reason;
  p.d.event(p.pool, "Warning", "Quarantined", `quarantined Hardware ${m.hw.metadata.name}: ${reason}`);
}
