/**
 * Report: the status the plan describes, with what applying it changed (servers claimed, released or
 * quarantined; member errors), written once through server-side apply on the status subresource and only
 * when something changed.
 */
import { isDeepStrictEqual } from "node:util";
import type { BaremetalPoolStatus, Member, MemberPhase } from "../../lib/api/baremetalpool.ts";
import { POOL } from "../../lib/api/baremetalpool.ts";
import { FIELD_MANAGER } from "../../lib/api/labels.ts";
import type { KubeClient } from "../../lib/kube/rest.ts";
import { setConditions, type ConditionInput } from "./conditions.ts";
import type { PlannedMember, PoolObject } from "./types.ts";

export interface Applied {
  errors: ReadonlyMap<string, string>;
  claimed: readonly string[];
  left: ReadonlySet<string>;
}

const seconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** Member errors from this pass make the pool Degraded (MemberError) over what the plan said. */
function withMemberErrors(
  conditions: readonly ConditionInput[],
  errors: ReadonlyMap<string, string>,
): ConditionInput[] {
  if (!errors.size) return [...conditions];
  const message = [...errors].map(([hw, err]) => `${hw}: ${err}`).join("; ");
  return conditions.map((c) =>
    c.type === "Degraded" ? { type: "Degraded", status: "True", reason: "MemberError", message } : c,
  );
}

export function buildStatus(
  pool: PoolObject,
  planned: readonly PlannedMember[],
  conditions: readonly ConditionInput[],
  applied: Applied,
  available: number,
  now: Date,
): BaremetalPoolStatus {
  const previous = pool.status;
  const stamp = seconds(now);
  const oldByName = new Map((previous?.members ?? []).map((m) => [m.hardware, m]));
  const rows: {
    hardware: string;
    phase: MemberPhase;
    attempts: number;
    md?: string;
    lastError?: string;
    releasing: boolean;
  }[] = [
    ...planned
      .filter((m) => !applied.left.has(m.view.hw.metadata.name ?? ""))
      .map((m) => {
        const hardware = m.view.hw.metadata.name ?? "";
        const lastError = applied.errors.get(hardware) ?? m.lastError;
        return {
          hardware,
          phase: m.phase,
          attempts: m.attempts,
          releasing: m.view.releasing,
          ...(m.view.md?.metadata.name ? { md: m.view.md.metadata.name } : {}),
          ...(lastError ? { lastError } : {}),
        };
      }),
    ...applied.claimed.map((hardware) => ({
      hardware,
      phase: "Claimed" as const,
      attempts: 0,
      releasing: false,
    })),
  ].sort((a, b) => a.hardware.localeCompare(b.hardware));
  const members: Member[] = rows.map((r) => {
    const old = oldByName.get(r.hardware);
    const samePhase = old?.phase === r.phase;
    const lastError = r.lastError ?? (samePhase ? old?.lastError : undefined);
    return {
      hardware: r.hardware,
      ...(r.md ? { machineDeployment: r.md } : {}),
      phase: r.phase,
      since: samePhase && old ? old.since : stamp,
      attempts: r.attempts,
      ...(lastError ? { lastError: lastError.slice(0, 4096) } : {}),
    };
  });
  const active = rows.filter((r) => !r.releasing);
  const count = (...phases: MemberPhase[]): number => active.filter((m) => phases.includes(m.phase)).length;
  return {
    observedGeneration: pool.metadata.generation ?? 0,
    replicas: active.length,
    readyReplicas: count("Ready"),
    provisioningReplicas: count("Claimed", "Provisioning"),
    failedReplicas: count("Failed"),
    availableHardware: Math.max(0, available - applied.claimed.length),
    conditions: setConditions(
      previous?.conditions,
      withMemberErrors(conditions, applied.errors),
      pool.metadata.generation ?? 0,
      stamp,
    ),
    members,
  };
}

/** The status of a pool that cannot be planned (invalid spec, unreachable target): the reason, other conditions kept. */
export function problemStatus(
  pool: PoolObject,
  problems: readonly ConditionInput[],
  now: Date,
): BaremetalPoolStatus {
  const previous = pool.status;
  return {
    ...previous,
    replicas: previous?.replicas ?? 0,
    readyReplicas: previous?.readyReplicas ?? 0,
    provisioningReplicas: previous?.provisioningReplicas ?? 0,
    failedReplicas: previous?.failedReplicas ?? 0,
    availableHardware: previous?.availableHardware ?? 0,
    observedGeneration: pool.metadata.generation ?? 0,
    conditions: setConditions(previous?.conditions, problems, pool.metadata.generation ?? 0, seconds(now)),
  };
}

/** Writes status only when it differs from what the pool already shows. */
export async function writeStatus(
  client: KubeClient,
  pool: PoolObject,
  status: BaremetalPoolStatus,
): Promise<boolean> {
  // The pool's status came from JSON already; only ours may hold undefined fields.
  if (isDeepStrictEqual(normalize(status), pool.status ?? {})) return false;
  const body = {
    apiVersion: "metalpool.io/v1alpha1",
    kind: "BaremetalPool",
    metadata: { name: pool.metadata.name, namespace: pool.metadata.namespace },
    status,
  };
  await client.apply(POOL, body as PoolObject, FIELD_MANAGER, "status");
  return true;
}

/** JSON round-trip drops undefined fields, so an omitted optional equals an absent one. */
function normalize(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}
