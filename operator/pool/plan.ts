/**
 * Plan: pure. From one view and the time, decide every action of this pass, when to look again, and the
 * status to report. No I/O, no clock, no mutation of the view. Pool-level budgets are explicit:
 *   - claims: free eligible servers up to spec.replicas (none while deleting or paused);
 *   - victims: members beyond the desired count, chosen by `chooseVictims`;
 *   - provisioning slots: a member holds one from its first provisioning action until it is Ready or
 *     failed; a member that needs one to start waits while maxConcurrent are taken.
 */
import type { MemberPhase } from "../../lib/api/baremetalpool.ts";
import type { ConditionInput } from "./conditions.ts";
import { POLL_MS, contextFor, decide, type Decision } from "./member-table.ts";
import { availabilityGaps, chooseHardware, provisionabilityGaps, requirementGaps } from "./select.ts";
import type { Action, MemberView, Plan, PlannedMember, PoolView } from "./types.ts";
import { chooseVictims } from "./victims.ts";

export const PROGRESSING_PHASES: ReadonlySet<MemberPhase> = new Set([
  "Claimed",
  "Provisioning",
  "Deprovisioning",
]);
/** The shortest requeue: a deadline in the past still waits this long, so a pass never spins. */
const MIN_REQUEUE_MS = 1_000;
const TARGET_ACTIONS: ReadonlySet<Action["kind"]> = new Set([
  "createMachineDeployment",
  "deleteMachineDeployment",
  "replaceMachineDeployment",
]);

export function plan(view: PoolView, now: number): Plan {
  const acting = !view.spec.paused || view.deleting;
  const desired = view.deleting ? 0 : view.spec.replicas;
  const victims = new Set(acting ? chooseVictims(view.members, desired) : []);
  const ctx = contextFor(view, now);

  const decisions = new Map<MemberView, Decision>();
  // A victim that is provisioning keeps its slot until its deprovisioning has stopped it.
  const victimDecision = (m: MemberView): Decision => ({
    actions: [],
    holdsSlot: m.phase === "Provisioning",
  });
  for (const m of view.members) decisions.set(m, victims.has(m) ? victimDecision(m) : decide(m, ctx));

  const actions: Action[] = [];
  const applied = new Set<MemberView>();
  if (acting) {
    for (const v of victims) actions.push({ kind: "markReleasing", member: v });
    let free =
      view.spec.provisioning.maxConcurrent - [...decisions.values()].filter((d) => d.holdsSlot).length;
    for (const m of view.members) {
      const d = decisions.get(m) as Decision;
      if (d.needsSlot) {
        if (free <= 0) continue; // waits for a slot; a member finishing wakes the pool
        free -= 1;
      }
      actions.push(...d.actions);
      applied.add(m);
    }
    actions.push(...claims(view, desired));
  }

  const members: PlannedMember[] = view.members.map((m) => {
    const d = decisions.get(m) as Decision;
    const lastError = d.lastError ?? m.lastError;
    const after = applied.has(m) ? d.after : undefined;
    const leaving = applied.has(m) && d.actions.some((a) => a.kind === "quarantine" || a.kind === "release");
    return {
      view: m,
      leaving,
      phase: after?.phase ?? d.phase ?? m.phase,
      attempts: after?.attempts ?? m.attempt,
      ...(lastError && (!after || after.phase === "Failed") ? { lastError } : {}),
    };
  });
  return {
    actions,
    requeueAfterMs: requeueAfter(actions, now),
    members,
    conditions: conditions(view, members, desired),
    eligible: view.eligible.length,
  };
}

function claims(view: PoolView, desired: number): Action[] {
  if (view.deleting) return [];
  const active = view.members.filter((m) => !m.releasing).length;
  if (active >= desired) return [];
  const chosen = chooseHardware(
    [...view.eligible],
    view.members.map((m) => m.hw),
    view.spec,
    desired - active,
  );
  return chosen.map((hw) => ({ kind: "claim", hw }));
}

function requeueAfter(actions: readonly Action[], now: number): number | undefined {
  const waits = actions.flatMap((a) => (a.kind === "wait" ? [a.until] : []));
  // Changes in this cluster come back through the watches; a target cluster elsewhere is not watched.
  if (actions.some((a) => TARGET_ACTIONS.has(a.kind))) waits.push(now + POLL_MS);
  if (!waits.length) return undefined;
  return Math.max(MIN_REQUEUE_MS, Math.min(...waits) - now);
}

function conditions(view: PoolView, planned: readonly PlannedMember[], desired: number): ConditionInput[] {
  const members = planned.filter((m) => !m.leaving); // a server released or quarantined this pass is gone
  const active = members.filter((m) => !m.view.releasing);
  const ready = active.filter((m) => m.phase === "Ready").length;
  const shortage = Math.max(0, desired - active.length);
  const readyReason = view.deleting
    ? "Deleting"
    : view.spec.paused
      ? "Paused"
      : shortage > 0
        ? "HardwareShortage"
        : "Provisioning";
  const failed = active.filter((m) => m.phase === "Failed");
  const summary = summarize(members);
  return [
    ready === desired && members.length === desired
      ? { type: "Ready", status: "True", reason: "AllReady", message: `${ready}/${desired} servers ready` }
      : { type: "Ready", status: "False", reason: readyReason, message: `${ready}/${desired} servers ready` },
    members.some((m) => PROGRESSING_PHASES.has(m.phase))
      ? { type: "Progressing", status: "True", reason: "MembersChanging", message: summary }
      : { type: "Progressing", status: "False", reason: "Stable", message: summary },
    failed.length
      ? {
          type: "Degraded",
          status: "True",
          reason: "ProvisioningFailed",
          message: failed.map((m) => `${m.view.hw.metadata.name}: ${m.lastError ?? "failed"}`).join("; "),
        }
      : { type: "Degraded", status: "False", reason: "AsExpected", message: "" },
    shortage > 0 && !view.spec.paused
      ? {
          type: "HardwareShortage",
          status: "True",
          reason: "NotEnoughEligibleHardware",
          message: `need ${shortage} more server(s); ${shortageDetail(view)}`,
        }
      : { type: "HardwareShortage", status: "False", reason: "Enough", message: "" },
  ];
}

/** Why Hardware matching the selector is not eligible, counted by first reason, so a person knows what to fix. */
function shortageDetail(view: PoolView): string {
  const reasons = new Map<string, number>();
  for (const hw of view.selected) {
    const gaps = [
      ...availabilityGaps(hw),
      ...requirementGaps(hw, view.spec.requirements),
      ...provisionabilityGaps(hw),
    ];
    const first = gaps[0]?.replace(/^claimed by pool .*/, "claimed by another pool");
    if (first) reasons.set(first, (reasons.get(first) ?? 0) + 1);
  }
  const detail = [...reasons].map(([reason, n]) => `${n} ${reason}`).join(", ");
  return `${view.eligible.length} eligible, ${view.selected.length} match the selector${detail ? ` (${detail})` : ""}`;
}

function summarize(members: readonly PlannedMember[]): string {
  const counts = new Map<string, number>();
  for (const m of members) counts.set(m.phase, (counts.get(m.phase) ?? 0) + 1);
  return [...counts].map(([phase, n]) => `${n} ${phase}`).join(", ") || "no members";
}
