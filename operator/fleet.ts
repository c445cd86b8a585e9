/**
 * Where each server of the fleet stands, one state per Hardware, so the states of a namespace add up to
 * its Hardware count. Pure; the member phase of claimed servers comes from the pools' last passes.
 */
import type { MemberPhase } from "../lib/api/baremetalpool.ts";
import { LABEL } from "../lib/api/labels.ts";
import type { Hardware } from "../lib/api/tinkerbell.ts";
import { availabilityGaps, provisionabilityGaps } from "./pool/select.ts";

export const hardwareStates = [
  /** Free, approved and provisionable: some pool whose selector matches may claim it now. */
  "free-eligible",
  /** Free but not provisionable as it is (missing MAC/IP/disk, a leftover metadata.state, being deleted). */
  "free-unprovisionable",
  /** Claimed and in service (Ready) or on its way out (Deprovisioning). */
  "claimed",
  /** Claimed and not in service yet: waiting, provisioning, or failed and waiting for a retry. */
  "provisioning",
  "quarantined",
  /**
   * Still labelled as claimed by a pool that no longer exists (its finalizer was force-removed): what is on
   * its disk is not known, so no pool claims it until a person releases it (see README, Safety).
   */
  "orphaned-claim",
  /** Created by discovery and counted against its pending cap, waiting for a person's approval. */
  "discovered-pending",
  /** Created by discovery, not approved, and not pending either (e.g. the approval label was removed). */
  "unapproved",
] as const;
export type HardwareState = (typeof hardwareStates)[number];

const NOT_IN_SERVICE_YET: ReadonlySet<MemberPhase> = new Set(["Claimed", "Provisioning", "Failed"]);

/**
 * `phase`: the server's member phase in the pool that claims it, when a pass has seen it; `poolExists`: whether
 * a pool with that UID exists (left out, every claim counts as a live one).
 */
export function hardwareState(
  hw: Hardware,
  phase: MemberPhase | undefined,
  poolExists?: (uid: string) => boolean,
): HardwareState {
  const labels = hw.metadata.labels ?? {};
  const claim = labels[LABEL.poolUID];
  if (labels[LABEL.quarantined] === "true") return "quarantined";
  if (claim) return claimedState(claim, phase, poolExists);
  if (labels[LABEL.discovered] === "true" && labels[LABEL.approved] !== "true")
    return labels[LABEL.approval] === "pending" ? "discovered-pending" : "unapproved";
  return availabilityGaps(hw).length === 0 && provisionabilityGaps(hw).length === 0
    ? "free-eligible"
    : "free-unprovisionable";
}

function claimedState(
  claim: string,
  phase: MemberPhase | undefined,
  poolExists: ((uid: string) => boolean) | undefined,
): HardwareState {
  if (poolExists && !poolExists(claim)) return "orphaned-claim";
  return phase && NOT_IN_SERVICE_YET.has(phase) ? "provisioning" : "claimed";
}

/** Hardware count per namespace and state; every state of a namespace that has Hardware is present. */
export function fleetCounts(
  hardware: Iterable<Hardware>,
  phaseOf: (hw: Hardware) => MemberPhase | undefined,
  poolExists?: (uid: string) => boolean,
): Map<string, Map<HardwareState, number>> {
  const counts = new Map<string, Map<HardwareState, number>>();
  for (const hw of hardware) {
    const ns = hw.metadata.namespace ?? "";
    let states = counts.get(ns);
    if (!states) {
      states = new Map(hardwareStates.map((s) => [s, 0]));
      counts.set(ns, states);
    }
    const state = hardwareState(hw, phaseOf(hw), poolExists);
    states.set(state, (states.get(state) ?? 0) + 1);
  }
  return counts;
}
