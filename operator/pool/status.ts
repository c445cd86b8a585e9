/**
 * Step 6, report: status rebuilt from the members every pass and written once, through server-side apply
 * on the status subresource, and only when something changed.
 */
import { isDeepStrictEqual } from "node:util";
import type {
  BaremetalPoolSpec,
  BaremetalPoolStatus,
  Member,
  MemberPhase,
} from "../../lib/api/baremetalpool.ts";
import { FIELD_MANAGER } from "../../lib/api/labels.ts";
import { matchesSelector } from "../../lib/api/selector.ts";
import type { Hardware } from "../../lib/api/tinkerbell.ts";
import { mergeConditions, type ConditionInput } from "./conditions.ts";
import type { ReconcilerDeps } from "./pass.ts";
import { availabilityGaps, provisionabilityGaps, requirementGaps } from "./select.ts";
import type { MemberView, PoolObject } from "./types.ts";
import { POOL } from "./resource.ts";

export const PROGRESSING_PHASES = new Set<MemberPhase>(["Claimed", "Provisioning", "Deprovisioning"]);

export interface ConditionFacts {
  spec: BaremetalPoolSpec;
  members: MemberView[];
  desired: number;
  eligible: number;
  selected: Hardware[];
  problems: ConditionInput[];
  deleting: boolean;
}

export function poolConditions(f: ConditionFacts): ConditionInput[] {
  const active = f.members.filter((m) => !m.releasing);
  const ready = active.filter((m) => m.phase === "Ready").length;
  const shortage = Math.max(0, f.desired - active.length);
  const summary = summarize(f.members);
  const readyReason = f.deleting
    ? "Deleting"
    : f.spec.paused
      ? "Paused"
      : shortage > 0
        ? "HardwareShortage"
        : "Provisioning";
  const failed = active.filter((m) => m.phase === "Failed");
  const degraded =
    f.problems[0] ??
    (failed.length
      ? {
          type: "Degraded" as const,
          status: "True" as const,
          reason: "ProvisioningFailed",
          message: failed.map((m) => `${m.hw.metadata.name}: ${m.lastError ?? "failed"}`).join("; "),
        }
      : { type: "Degraded" as const, status: "False" as const, reason: "AsExpected", message: "" });
  return [
    ready === f.desired && f.members.length === f.desired
      ? { type: "Ready", status: "True", reason: "AllReady", message: `${ready}/${f.desired} servers ready` }
      : {
          type: "Ready",
          status: "False",
          reason: readyReason,
          message: `${ready}/${f.desired} servers ready`,
        },
    f.members.some((m) => PROGRESSING_PHASES.has(m.phase))
      ? { type: "Progressing", status: "True", reason: "MembersChanging", message: summary }
      : { type: "Progressing", status: "False", reason: "Stable", message: summary },
    degraded,
    shortage > 0 && !f.spec.paused
      ? {
          type: "HardwareShortage",
          status: "True",
          reason: "NotEnoughEligibleHardware",
          message: `need ${shortage} more server(s); ${shortageDetail(f)}`,
        }
      : { type: "HardwareShortage", status: "False", reason: "Enough", message: "" },
  ];
}

/** Why Hardware matching the selector is not eligible, counted by first reason, so a person knows what to fix. */
function shortageDetail(f: ConditionFacts): string {
  const reasons = new Map<string, number>();
  for (const hw of f.selected) {
    const gaps = [
      ...availabilityGaps(hw),
      ...requirementGaps(hw, f.spec.requirements),
      ...provisionabilityGaps(hw),
    ];
    const first = gaps[0]?.replace(/^claimed by pool .*/, "claimed by another pool");
    if (first) reasons.set(first, (reasons.get(first) ?? 0) + 1);
  }
  const detail = [...reasons].map(([reason, n]) => `${n} ${reason}`).join(", ");
  return `${f.eligible} eligible, ${f.selected.length} match the selector${detail ? ` (${detail})` : ""}`;
}

export function selectedHardware(d: ReconcilerDeps, pool: PoolObject, spec: BaremetalPoolSpec): Hardware[] {
  return d.hardware
    .list()
    .filter(
      (hw) =>
        hw.metadata.namespace === pool.metadata.namespace &&
        matchesSelector(hw.metadata.labels, spec.hardwareSelector),
    );
}

function summarize(members: MemberView[]): string {
  const counts = new Map<string, number>();
  for (const m of members) counts.set(m.phase, (counts.get(m.phase) ?? 0) + 1);
  return [...counts].map(([phase, n]) => `${n} ${phase}`).join(", ") || "no members";
}

const seconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");

export function buildStatus(
  pool: PoolObject,
  members: MemberView[],
  conditions: ConditionInput[],
  available: number,
  now: Date,
): BaremetalPoolStatus {
  const previous = pool.status;
  const stamp = seconds(now);
  const memberStatus: Member[] = members.map((m) => {
    const old = previous?.members?.find((x) => x.hardware === m.hw.metadata.name);
    const samePhase = old?.phase === m.phase;
    const lastError = m.lastError ?? (samePhase ? old?.lastError : undefined);
    return {
      hardware: m.hw.metadata.name ?? "",
      ...(m.md?.metadata.name ? { machineDeployment: m.md.metadata.name } : {}),
      phase: m.phase,
      since: samePhase && old ? old.since : stamp,
      attempts: m.attempt,
      ...(lastError ? { lastError: lastError.slice(0, 4096) } : {}),
    };
  });
  const active = members.filter((m) => !m.releasing);
  const count = (...phases: MemberPhase[]): number => active.filter((m) => phases.includes(m.phase)).length;
  return {
    observedGeneration: pool.metadata.generation ?? 0,
    replicas: active.length,
    readyReplicas: count("Ready"),
    provisioningReplicas: count("Claimed", "Provisioning"),
    failedReplicas: count("Failed"),
    availableHardware: available,
    conditions: mergeConditions(previous?.conditions, conditions, pool.metadata.generation ?? 0, stamp),
    members: memberStatus,
  };
}

/** Writes status only when it differs from what the pool already shows. */
export async function writeStatus(
  d: ReconcilerDeps,
  pool: PoolObject,
  status: BaremetalPoolStatus,
): Promise<boolean> {
  if (isDeepStrictEqual(normalize(status), normalize(pool.status ?? {}))) return false;
  const body = {
    apiVersion: "metalpool.io/v1alpha1",
    kind: "BaremetalPool",
    metadata: { name: pool.metadata.name, namespace: pool.metadata.namespace },
    status,
  };
  await d.client.apply(POOL, body as PoolObject, FIELD_MANAGER, "status");
  return true;
}

/** JSON round-trip drops undefined fields, so an omitted optional equals an absent one. */
function normalize(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}
