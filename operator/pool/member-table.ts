/**
 * The member state machine as a table: one handler per phase the objects show, each a pure function of
 * the member, the pool's settings and the time, returning what to do (a closed set of actions), whether it
 * needs or holds a provisioning slot, and when to look again. Nothing here does I/O or reads a clock.
 *
 *   phase           what happens                                                   next phase
 *   Claimed         check preconditions; with a slot: Workflow (Operator) or        Provisioning
 *                   MachineDeployment (MachineController)
 *   Provisioning    power into PXE once per attempt; wait for the Workflow          Ready | Failed
 *                   (overdue after attemptTimeout counts as failed)
 *   Failed          retry after backoff (new Workflow, or MachineDeployment         Provisioning | Quarantined
 *                   replaced and Hardware state cleared); after maxAttempts quarantine
 *   Ready           PXE off if nothing else turned it off                           (scale-down only)
 *   Deprovisioning  delete MachineDeployment, wait for Machines, delete Workflows,   Released | Quarantined
 *                   wipe per wipeMode, power off, release
 */
import type { MemberPhase } from "../../lib/api/baremetalpool.ts";
import { ANNOTATION } from "../../lib/api/labels.ts";
import { parseDuration } from "../../lib/api/quantity.ts";
import {
  TERMINAL_FAILURE,
  workflowChangedAt,
  workflowError,
  workflowState,
  type Workflow,
} from "../../lib/api/tinkerbell.ts";
import { workflowName, type WorkflowPurpose } from "../provision/workflow.ts";
import type { Action, MemberView, PoolView } from "./types.ts";

/** Target-cluster objects are not always watched: while waiting on them, look again this soon. */
export const POLL_MS = 5_000;
/** After this many failed power-off requests a released server is let go anyway (and the Event says so). */
export const MAX_POWER_OFF_FAILURES = 3;
const MAX_POWER_BACKOFF_MS = 5 * 60_000;

export interface MemberContext {
  readonly view: PoolView;
  readonly now: number;
  readonly machineControllerOwns: boolean;
  readonly timeoutMs: number;
}

export interface Decision {
  readonly actions: readonly Action[];
  /** Set when the status should show another phase than the objects do (an overdue attempt is Failed). */
  readonly phase?: MemberPhase;
  readonly lastError?: string;
  /** What the status shows once the actions are applied (a started attempt is Provisioning). */
  readonly after?: { readonly phase: MemberPhase; readonly attempts: number };
  /** The actions start provisioning and may run only if the pool has a free provisioning slot. */
  readonly needsSlot?: boolean;
  /** The member is provisioning and counts against maxConcurrent. */
  readonly holdsSlot?: boolean;
}

type Handler = (m: MemberView, c: MemberContext) => Decision;

const time = (iso: string | undefined): number | undefined => {
  const t = Date.parse(iso ?? "");
  return Number.isFinite(t) ? t : undefined;
};
const created = (o: { metadata: { creationTimestamp?: string } }, c: MemberContext): number =>
  time(o.metadata.creationTimestamp) ?? c.now;
const wait = (m: MemberView, until: number, why: string): Action => ({ kind: "wait", member: m, until, why });
const poll = (m: MemberView, c: MemberContext, why: string): Action => wait(m, c.now + POLL_MS, why);
const nothing: Decision = { actions: [] };

/** Why the running attempt counts as failed, or undefined while it is fine. */
function attemptFailure(m: MemberView, c: MemberContext): { reason: string; failed?: Workflow } | undefined {
  const latest = m.workflows.at(-1);
  const timeout = c.view.spec.provisioning.attemptTimeout;
  if (latest) {
    const state = workflowState(latest);
    if (state && TERMINAL_FAILURE.has(state))
      return { reason: `attempt ${m.attempt} ${state}: ${workflowError(latest)}`, failed: latest };
    if (state !== "SUCCESS" && c.now - created(latest, c) > c.timeoutMs)
      return { reason: `attempt ${m.attempt} did not finish within ${timeout}`, failed: latest };
    return undefined;
  }
  if (
    c.machineControllerOwns &&
    m.md &&
    !m.md.metadata.deletionTimestamp &&
    c.now - created(m.md, c) > c.timeoutMs
  )
    return { reason: `attempt ${m.attempt}: machine-controller created no Workflow within ${timeout}` };
  return undefined;
}

/** When the next attempt may start: base × 2^(attempt-1) after the last failure. */
function retryDueAt(m: MemberView, c: MemberContext): number {
  const latest = m.workflows.at(-1);
  const failedAt =
    time(m.hw.metadata.annotations?.[ANNOTATION.lastFailure]) ??
    (latest ? (workflowChangedAt(latest) ?? created(latest, c)) : c.now);
  return failedAt + c.view.retryBackoffMs * 2 ** Math.max(0, m.attempt - 1);
}

/** A precondition a new attempt needs; its absence is a failed attempt like any other. */
function missingPrecondition(m: MemberView, c: MemberContext): string | undefined {
  if (c.view.spec.provisioning.power === "TinkerbellBMC" && !m.hw.spec.bmcRef)
    return `Hardware ${m.hw.metadata.name} has no spec.bmcRef; add a bmc.tinkerbell.org Machine or set provisioning.power`;
  return undefined;
}

/** machine-controller leaves Staged/Decommissioned and an instance id behind; a new Machine needs them gone. */
const hasLeftoverState = (m: MemberView): boolean =>
  Boolean(m.hw.spec.metadata?.state || m.hw.spec.metadata?.instance?.id);

/**
 * A succeeded Workflow without bootOptions (machine-controller's, or one of ours from before they had
 * them) leaves allowPXE on: smee would then boot the provisioning OS again at the server's next boot,
 * instead of the disk it just wrote. tink-controller turns it off only for `toggleAllowNetboot` Workflows.
 */
function netbootLeftOn(m: MemberView): Action | undefined {
  const latest = m.workflows.at(-1);
  if (workflowState(latest) !== "SUCCESS" || latest?.spec.bootOptions?.toggleAllowNetboot) return undefined;
  const on = (m.hw.spec.interfaces ?? []).some((i) => i.netboot?.allowPXE === true);
  return on ? { kind: "disableNetboot", member: m } : undefined;
}

/** The one-time PXE boot of a Workflow's server, unless someone else does it or it was already asked for. */
function powerStep(m: MemberView, wf: Workflow, c: MemberContext): Action | undefined {
  if (c.view.spec.provisioning.power === "Manual" || wf.spec.bootOptions?.bootMode === "netboot")
    return undefined;
  const annotations = wf.metadata.annotations ?? {};
  if (annotations[ANNOTATION.powerRequested]) return undefined;
  const state = workflowState(wf);
  if (state && state !== "PENDING" && state !== "PREPARING") return undefined;
  const failures = Number(annotations[ANNOTATION.powerFailures] ?? 0) || 0;
  if (failures > 0) {
    const backoff = Math.min(MAX_POWER_BACKOFF_MS, c.view.retryBackoffMs * 2 ** (failures - 1));
    const due = (time(annotations[ANNOTATION.powerFailedAt]) ?? c.now) + backoff;
    if (c.now < due) return wait(m, due, "BMC power request backing off");
  }
  return { kind: "powerIntoPxe", member: m, workflow: wf.metadata.name ?? "" };
}

/** Starts our Workflow for an attempt (or a wipe) and, where metalpool powers, boots the server into it. */
function ownWorkflow(
  m: MemberView,
  c: MemberContext,
  start: Action,
  purpose: WorkflowPurpose,
  attempt: number,
): Action[] {
  // Our Workflows carry bootOptions under TinkerbellBMC (tink-controller powers); Manual is a person's job.
  if (c.view.spec.provisioning.power !== "Redfish") return [start];
  return [start, { kind: "powerIntoPxe", member: m, workflow: workflowName(m.hw, purpose, attempt) }];
}

/** A new attempt: preconditions, then (with a slot) its Workflow or MachineDeployment. */
function startAttempt(m: MemberView, c: MemberContext): Decision {
  const missing = missingPrecondition(m, c);
  if (missing)
    return {
      actions: [
        { kind: "clearHardwareState", member: m, failure: { attempt: m.attempt + 1, reason: missing } },
      ],
      phase: "Failed",
      lastError: missing,
      after: { phase: "Failed", attempts: m.attempt + 1 },
    };
  const after = { phase: "Provisioning" as const, attempts: m.attempt + 1 };
  if (!c.machineControllerOwns) {
    const start: Action = { kind: "startWorkflow", member: m, attempt: m.attempt + 1 };
    return { actions: ownWorkflow(m, c, start, "provision", m.attempt + 1), needsSlot: true, after };
  }
  if (m.machines > 0) return { actions: [poll(m, c, "machine-controller still holds a Machine")] };
  if (hasLeftoverState(m)) return { actions: [{ kind: "clearHardwareState", member: m }] };
  return {
    actions: [{ kind: "createMachineDeployment", member: m, attempt: m.attempt + 1 }],
    needsSlot: true,
  };
}

const claimed: Handler = (m, c) => startAttempt(m, c);

function failed(m: MemberView, c: MemberContext, reason: string, failedWorkflow?: Workflow): Decision {
  const base = { phase: "Failed" as const, lastError: reason };
  const max = c.view.spec.provisioning.maxAttempts;
  if (m.attempt >= max)
    return {
      ...base,
      actions: [
        { kind: "quarantine", member: m, reason: `${max} provisioning attempts failed; last: ${reason}` },
      ],
    };
  if (c.machineControllerOwns) {
    // machine-controller never notices a failure: a retry is a new MachineDeployment on clean Hardware.
    if (m.md)
      return m.md.metadata.deletionTimestamp
        ? { ...base, actions: [poll(m, c, "MachineDeployment deleting")] }
        : {
            ...base,
            actions: [{ kind: "replaceMachineDeployment", member: m, failed: failedWorkflow, reason }],
          };
    if (m.machines > 0) return { ...base, actions: [poll(m, c, "machine-controller still holds a Machine")] };
    const recorded =
      Boolean(m.hw.metadata.annotations?.[ANNOTATION.lastFailure]) &&
      Number(m.hw.metadata.annotations?.[ANNOTATION.attempts]) === m.attempt;
    if (m.workflows.length > 0 || hasLeftoverState(m) || !recorded)
      return {
        ...base,
        actions: [
          {
            kind: "clearHardwareState",
            member: m,
            ...(recorded ? {} : { failure: { attempt: m.attempt, reason } }),
          },
          ...(m.workflows.length
            ? [{ kind: "deleteWorkflows" as const, member: m, workflows: m.workflows }]
            : []),
        ],
      };
  }
  const due = retryDueAt(m, c);
  if (c.now < due) return { ...base, actions: [wait(m, due, "retry backoff")] };
  if (failedWorkflow && !c.machineControllerOwns) {
    const missing = missingPrecondition(m, c);
    if (!missing) {
      const retry: Action = {
        kind: "retry",
        member: m,
        failed: failedWorkflow,
        attempt: m.attempt + 1,
        reason,
      };
      return {
        ...base,
        actions: ownWorkflow(m, c, retry, "provision", m.attempt + 1),
        needsSlot: true,
        after: { phase: "Provisioning", attempts: m.attempt + 1 },
      };
    }
  }
  return { ...startAttempt(m, c), ...base };
}

const failedPhase: Handler = (m, c) => {
  const failure = attemptFailure(m, c);
  return failed(m, c, failure?.reason ?? m.lastError ?? `attempt ${m.attempt} failed`, failure?.failed);
};

const provisioning: Handler = (m, c) => {
  const failure = attemptFailure(m, c);
  if (failure) return failed(m, c, failure.reason, failure.failed);
  const latest = m.workflows.at(-1);
  if (c.machineControllerOwns) {
    // Until its Machine is gone the server may still be provisioning: it keeps its slot meanwhile.
    if (!m.md) {
      // Its MachineDeployment went (a person, or a lost replacement): the Workflows belong to a gone Machine.
      if (m.machines > 0)
        return { actions: [poll(m, c, "machine-controller still holds a Machine")], holdsSlot: true };
      return { actions: [{ kind: "deleteWorkflows", member: m, workflows: m.workflows }], holdsSlot: true };
    }
    if (m.md.metadata.deletionTimestamp)
      return { actions: [poll(m, c, "MachineDeployment deleting")], holdsSlot: true };
  }
  const deadline = (latest ?? m.md) ? created((latest ?? m.md)!, c) + c.timeoutMs : c.now + c.timeoutMs;
  const actions: Action[] = [wait(m, deadline, "attempt timeout")];
  if (latest && workflowState(latest) === "SUCCESS") {
    const pxeOff = netbootLeftOn(m);
    if (pxeOff) actions.unshift(pxeOff);
    actions.push(poll(m, c, "waiting for the Node"));
  } else if (latest) {
    const power = powerStep(m, latest, c);
    if (power) actions.unshift(power);
  }
  return { actions, holdsSlot: true };
};

const ready: Handler = (m) => {
  const pxeOff = netbootLeftOn(m);
  return pxeOff ? { actions: [pxeOff] } : nothing;
};

/** Scale-down: MachineDeployment, Machines, Workflows, wipe, power off, release — each only after the one before. */
const deprovisioning: Handler = (m, c) => {
  if (m.md)
    return m.md.metadata.deletionTimestamp
      ? { actions: [poll(m, c, "MachineDeployment deleting")] }
      : { actions: [{ kind: "deleteMachineDeployment", member: m }] };
  // machine-controller deleting a Machine still writes to the Hardware (Decommissioned): let it finish first.
  if (m.machines > 0) return { actions: [poll(m, c, "machine-controller still holds a Machine")] };
  if (m.workflows.length)
    return { actions: [{ kind: "deleteWorkflows", member: m, workflows: m.workflows }] };
  const mode = c.view.spec.provisioning.wipeMode;
  if (mode !== "None" && workflowState(m.wipe) !== "SUCCESS") return wiping(m, c, mode);
  return poweringOff(m, c);
};

function wiping(m: MemberView, c: MemberContext, mode: "Metadata" | "Full"): Decision {
  if (!m.wipe) return { actions: ownWorkflow(m, c, { kind: "startWipe", member: m, mode }, "wipe", 0) };
  const state = workflowState(m.wipe);
  const timeout = c.view.spec.provisioning.attemptTimeout;
  // A dirty disk is never handed out: a failed wipe takes the server out of service.
  if (state && TERMINAL_FAILURE.has(state))
    return {
      actions: [
        { kind: "quarantine", member: m, reason: `wipe failed (${state}): ${workflowError(m.wipe)}` },
      ],
    };
  const deadline = created(m.wipe, c) + c.timeoutMs;
  if (c.now > deadline)
    return { actions: [{ kind: "quarantine", member: m, reason: `wipe did not finish within ${timeout}` }] };
  const power = powerStep(m, m.wipe, c);
  return { actions: [...(power ? [power] : []), wait(m, deadline, "wipe timeout")] };
}

function poweringOff(m: MemberView, c: MemberContext): Decision {
  const annotations = m.hw.metadata.annotations ?? {};
  const failures = Number(annotations[ANNOTATION.powerOffFailures] ?? 0) || 0;
  const done =
    c.view.spec.provisioning.power === "Manual" ||
    Boolean(annotations[ANNOTATION.poweredOff]) ||
    failures >= MAX_POWER_OFF_FAILURES;
  if (done) return { actions: [{ kind: "release", member: m }] };
  // Asked, not yet seen done (a rufio Job waiting for rufio): the claim stays until it ran, so the Job can
  // never power off a server that is free or another pool's by then. Asking again only reads the Job.
  if (annotations[ANNOTATION.powerOffRequested])
    return { actions: [{ kind: "powerOff", member: m }, poll(m, c, "BMC power-off not done yet")] };
  if (failures > 0) {
    const due =
      (time(annotations[ANNOTATION.powerOffFailedAt]) ?? c.now) + c.view.retryBackoffMs * 2 ** (failures - 1);
    if (c.now < due) return { actions: [wait(m, due, "BMC power-off backing off")] };
  }
  return { actions: [{ kind: "powerOff", member: m }] };
}

/** The table: the phase the objects show → its handler. Released and Quarantined servers are no members. */
export const MEMBER_TABLE: Record<MemberPhase, Handler> = {
  Claimed: claimed,
  Provisioning: provisioning,
  Failed: failedPhase,
  Ready: ready,
  Deprovisioning: deprovisioning,
  Released: () => nothing,
  Quarantined: () => nothing,
};

export function decide(m: MemberView, c: MemberContext): Decision {
  return MEMBER_TABLE[m.phase](m, c);
}

export const contextFor = (view: PoolView, now: number): MemberContext => ({
  view,
  now,
  machineControllerOwns: view.spec.provisioning.workflowOwner === "MachineController",
  timeoutMs: parseDuration(view.spec.provisioning.attemptTimeout),
});
