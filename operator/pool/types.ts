/**
 * The shapes one reconcile pass works with: the view (read once, never mutated), the closed union of
 * actions the planner may choose, and the plan itself. Types only: every step imports these, none imports
 * another step.
 */
import type { BaremetalPool, BaremetalPoolSpec, MemberPhase, PoolRef } from "../../lib/api/baremetalpool.ts";
import type { MachineDeployment } from "../../lib/api/machine-controller.ts";
import type { Hardware, Workflow } from "../../lib/api/tinkerbell.ts";
import type { ConditionInput } from "./conditions.ts";

export type PoolObject = BaremetalPool;

/** One claimed server as the world shows it this pass. */
export interface MemberView {
  readonly hw: Hardware;
  readonly md: MachineDeployment | undefined;
  /** Machines machine-controller still holds for this server in the target cluster. */
  readonly machines: number;
  /** Provisioning Workflows for this server (ours or machine-controller's), newest attempt last. */
  readonly workflows: readonly Workflow[];
  readonly wipe: Workflow | undefined;
  /** Attempts made so far, from wherever they are recorded (Workflow labels, MachineDeployment, Hardware). */
  readonly attempt: number;
  readonly releasing: boolean;
  /** The phase the objects show (the plan may judge an overdue attempt Failed). */
  readonly phase: MemberPhase;
  /** The last recorded failure (Hardware annotation), if any. */
  readonly lastError?: string;
}

/** Everything one pass decides from: read once by `look`, never changed afterwards. */
export interface PoolView {
  readonly pool: PoolObject;
  readonly ref: PoolRef;
  readonly spec: BaremetalPoolSpec;
  readonly deleting: boolean;
  readonly members: readonly MemberView[];
  /** Free Hardware this pool may claim. */
  readonly eligible: readonly Hardware[];
  /** Every Hardware the selector matches, for the shortage message. */
  readonly selected: readonly Hardware[];
  readonly retryBackoffMs: number;
}

/** The closed set of things a pass may do. Each acts on one member (or claims one server). */
export type Action =
  | { kind: "claim"; hw: Hardware }
  | { kind: "markReleasing"; member: MemberView }
  | { kind: "createMachineDeployment"; member: MemberView; attempt: number }
  | { kind: "deleteMachineDeployment"; member: MemberView }
  | { kind: "startWorkflow"; member: MemberView; attempt: number }
  | { kind: "retry"; member: MemberView; failed: Workflow; attempt: number; reason: string }
  | { kind: "replaceMachineDeployment"; member: MemberView; failed: Workflow | undefined; reason: string }
  | { kind: "clearHardwareState"; member: MemberView; failure?: { attempt: number; reason: string } }
  /** PXE off once provisioning succeeded, where no bootOptions had tink-controller do it. */
  | { kind: "disableNetboot"; member: MemberView }
  | { kind: "deleteWorkflows"; member: MemberView; workflows: readonly Workflow[] }
  /** By name: the Workflow may be created by an earlier action of the same pass; apply reads it fresh. */
  | { kind: "powerIntoPxe"; member: MemberView; workflow: string }
  | { kind: "startWipe"; member: MemberView; mode: "Metadata" | "Full" }
  | { kind: "powerOff"; member: MemberView }
  | { kind: "release"; member: MemberView }
  | { kind: "quarantine"; member: MemberView; reason: string }
  | { kind: "wait"; member?: MemberView; until: number; why: string };

export type ActionKind = Action["kind"];

/** A member as the status will show it after this pass. */
export interface PlannedMember {
  readonly view: MemberView;
  readonly phase: MemberPhase;
  readonly attempts: number;
  /** Released or quarantined by this pass's actions. */
  readonly leaving: boolean;
  readonly lastError?: string;
}

/** A member as one pass left it, for metrics: the plan's phase and attempts, and whether it really left. */
export interface ObservedMember {
  readonly view: MemberView;
  readonly phase: MemberPhase;
  readonly attempts: number;
  readonly lastError?: string;
  /** Released or quarantined by this pass's applied actions (not merely planned). */
  readonly left: boolean;
}

/** What one planned pass did, for metrics. */
export interface ObservedPass {
  readonly pool: PoolObject;
  readonly members: readonly ObservedMember[];
  /** Servers claimed by this pass (members from the next pass on). */
  readonly claimed: number;
  readonly now: Date;
}

export interface Plan {
  readonly actions: readonly Action[];
  /** When to look again: the earliest deadline, or undefined when only a watch event can change anything. */
  readonly requeueAfterMs: number | undefined;
  readonly members: readonly PlannedMember[];
  readonly conditions: readonly ConditionInput[];
  readonly eligible: number;
}

/** What one reconcile pass asks of the queue. */
export interface Outcome {
  requeueAfterMs?: number;
}
