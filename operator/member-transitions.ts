/**
 * What happened to a member between two passes, as metric events: an attempt that ended (and why it
 * failed), how long the member spent in the phase it left, how long claim → Ready took, and how it left the
 * pool. Pure: the caller keeps each member's memory between passes and turns the events into metrics.
 *
 * Everything is derived from what the operator already sees each pass (the plan's phase and attempt
 * count, whether applying released or quarantined the member), so the planner stays pure. A member seen for
 * the first time (a new leader, a restarted operator) starts from what the pool's status recorded about it,
 * so a transition the previous leader already counted is not counted again, and one it never saw is.
 */
import type { MemberPhase } from "../lib/api/baremetalpool.ts";
import { ANNOTATION } from "../lib/api/labels.ts";
import { workflowState } from "../lib/api/tinkerbell.ts";
import type { ObservedMember } from "./pool/types.ts";

/** Why a provisioning attempt failed: a closed set, so it can be a label. */
export const failureReasons = ["timeout", "workflow-failed", "missing-bmc", "power-failed", "other"] as const;
export type FailureReason = (typeof failureReasons)[number];
export type QuarantineReason = "attempts-exhausted" | "wipe-failed";

/** Phases whose duration is recorded when a member leaves them: the stages of getting a server in and out. */
export const timedPhases: ReadonlySet<MemberPhase> = new Set([
  "Claimed",
  "Provisioning",
  "Failed",
  "Deprovisioning",
]);

export interface MemberMemory {
  readonly phase: MemberPhase;
  readonly attempts: number;
  /** When the member entered this phase (or this attempt of Provisioning), ms. */
  readonly since: number;
  /** The highest attempt whose outcome has been counted. */
  readonly counted: number;
}

export type MemberEvent =
  /** A provisioning attempt ended (attempt 2 and later are retries). */
  | { kind: "attempt"; attempt: number; result: "success" }
  | { kind: "attempt"; attempt: number; result: "failure"; reason: FailureReason }
  | { kind: "phase"; phase: MemberPhase; seconds: number }
  | { kind: "claim-to-ready"; seconds: number }
  | { kind: "quarantine"; reason: QuarantineReason }
  | { kind: "release"; result: "success" | "failure" }
  | { kind: "wipe"; result: "success" | "failure" };

/** What the pool's status last said about a member, the memory of whoever ran the pass before. */
export interface RecordedMember {
  readonly phase: MemberPhase;
  readonly attempts: number;
  readonly since: string;
}

const time = (iso: string | undefined): number | undefined => {
  const t = Date.parse(iso ?? "");
  return Number.isFinite(t) ? t : undefined;
};

/** The memory a member starts from when this process has none: the status, else a fresh claim. */
export function recalled(recorded: RecordedMember | undefined, m: ObservedMember, now: number): MemberMemory {
  if (!recorded) {
    const claimedAt = time(m.view.hw.metadata.annotations?.[ANNOTATION.claimedAt]) ?? now;
    return { phase: "Claimed", attempts: 0, since: claimedAt, counted: 0 };
  }
  // A Provisioning attempt has no outcome yet; any other phase shows the outcome of its last attempt.
  const counted = recorded.phase === "Provisioning" ? recorded.attempts - 1 : recorded.attempts;
  return {
    phase: recorded.phase,
    attempts: recorded.attempts,
    since: time(recorded.since) ?? now,
    counted: Math.max(0, counted),
  };
}

/**
 * Why the attempt that just ended failed. The planner's message says it for preconditions; the failed
 * Workflow says it for the rest; an overdue attempt whose power request kept failing failed on power.
 */
export function failureReason(m: ObservedMember): FailureReason {
  if (/ has no spec\.bmcRef/.test(m.lastError ?? "")) return "missing-bmc";
  const latest = m.view.workflows.at(-1);
  const state = workflowState(latest);
  if (state === "FAILED") return "workflow-failed";
  if (state === "TIMEOUT") return "timeout";
  const overdue = /did not finish within|created no Workflow within/.test(m.lastError ?? "");
  const annotations = latest?.metadata.annotations ?? {};
  const powerFailed =
    Number(annotations[ANNOTATION.powerFailures] ?? 0) > 0 && !annotations[ANNOTATION.powerRequested];
  if (powerFailed && (overdue || !m.lastError)) return "power-failed";
  if (overdue || (latest && !m.lastError)) return "timeout";
  return "other";
}

/** How a member that left this pass went: released (after its wipe, if any) or quarantined. */
function leaving(m: ObservedMember, manualPower: boolean): MemberEvent[] {
  if (!m.view.releasing) return [{ kind: "quarantine", reason: "attempts-exhausted" }];
  const wipe = m.view.wipe;
  if (wipe && workflowState(wipe) !== "SUCCESS")
    return [
      { kind: "wipe", result: "failure" },
      { kind: "quarantine", reason: "wipe-failed" },
    ];
  const poweredOff = manualPower || Boolean(m.view.hw.metadata.annotations?.[ANNOTATION.powerOffRequested]);
  return [
    ...(wipe ? [{ kind: "wipe", result: "success" } as const] : []),
    { kind: "release", result: poweredOff ? "success" : "failure" },
  ];
}

export interface TransitionContext {
  readonly now: number;
  /** The pool powers by hand: a release has no power-off to fail. */
  readonly manualPower: boolean;
}

/** The events between what was remembered of a member and what this pass made of it, and the new memory. */
export function memberTransitions(
  prev: MemberMemory,
  m: ObservedMember,
  ctx: TransitionContext,
): { events: MemberEvent[]; next: MemberMemory | undefined } {
  const { now } = ctx;
  const events: MemberEvent[] = [];
  let counted = prev.counted;
  // The attempt that was running ended without ever showing Failed: its retry started in the same pass.
  // The planner's message then is about the new attempt, so the failed one speaks through its Workflow.
  if (m.attempts > prev.attempts && prev.attempts > counted) {
    const reason = failureReason({ ...m, lastError: undefined });
    events.push({ kind: "attempt", attempt: prev.attempts, result: "failure", reason });
    counted = prev.attempts;
  }
  if (m.phase === "Failed" && m.attempts > counted) {
    events.push({ kind: "attempt", attempt: m.attempts, result: "failure", reason: failureReason(m) });
    counted = m.attempts;
  }
  if (m.phase === "Ready" && m.attempts > counted) {
    events.push({ kind: "attempt", attempt: m.attempts, result: "success" });
    const claimedAt = time(m.view.hw.metadata.annotations?.[ANNOTATION.claimedAt]);
    if (claimedAt !== undefined)
      events.push({ kind: "claim-to-ready", seconds: Math.max(0, now - claimedAt) / 1000 });
    counted = m.attempts;
  }
  // A new attempt restarts Provisioning. The count itself may drop (deprovisioning deletes the Workflows
  // that recorded it), which is no transition; the memory keeps the highest count seen.
  const moved = m.left || m.phase !== prev.phase || m.attempts > prev.attempts;
  if (moved && timedPhases.has(prev.phase))
    events.push({ kind: "phase", phase: prev.phase, seconds: Math.max(0, now - prev.since) / 1000 });
  if (m.left) return { events: [...events, ...leaving(m, ctx.manualPower)], next: undefined };
  return {
    events,
    next: {
      phase: m.phase,
      attempts: Math.max(m.attempts, prev.attempts),
      since: moved ? now : prev.since,
      counted,
    },
  };
}
