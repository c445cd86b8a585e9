import type { BaremetalPool, MemberPhase } from "../../lib/api/baremetalpool.ts";
import type { MachineDeployment } from "../../lib/api/machine-controller.ts";
import type { Hardware, Workflow } from "../../lib/api/tinkerbell.ts";

export type PoolObject = BaremetalPool;

/** One claimed server as the world shows it this pass. */
export interface MemberView {
  hw: Hardware;
  md: MachineDeployment | undefined;
  /** Provisioning Workflows for this server (ours or machine-controller's), newest attempt last. */
  workflows: Workflow[];
  wipe: Workflow | undefined;
  attempt: number;
  releasing: boolean;
  phase: MemberPhase;
  lastError?: string;
}

/** What one reconcile pass asks of the queue. */
export interface Outcome {
  requeueAfterMs?: number;
}
