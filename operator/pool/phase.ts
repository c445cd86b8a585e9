/** A member's phase as its objects show it: pure, shared by `look` (the view) and tests. */
import type { MemberPhase } from "../../lib/api/baremetalpool.ts";
import type { MachineDeployment } from "../../lib/api/machine-controller.ts";
import { TERMINAL_FAILURE, workflowState, type Workflow } from "../../lib/api/tinkerbell.ts";

export interface PhaseFacts {
  releasing: boolean;
  machineControllerOwns: boolean;
  md: MachineDeployment | undefined;
  workflows: readonly Workflow[];
  attempt: number;
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

export function phaseOf(f: PhaseFacts): MemberPhase {
  if (f.releasing) return "Deprovisioning";
  const latest = f.workflows.at(-1);
  const state = workflowState(latest);
  if (state === "SUCCESS")
    return !f.machineControllerOwns || (f.md && nodeReady(f.md)) ? "Ready" : "Provisioning";
  if (state && TERMINAL_FAILURE.has(state)) return "Failed";
  if (latest) return "Provisioning";
  if (f.machineControllerOwns && f.md) return "Provisioning"; // waiting for machine-controller's Workflow
  return f.attempt > 0 ? "Failed" : "Claimed"; // a recorded failure waits for its retry
}
