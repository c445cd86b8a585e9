import type { Condition, ConditionType } from "../../lib/api/baremetalpool.ts";

export interface ConditionInput {
  type: ConditionType;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/**
 * Sets one condition and keeps the others (metav1.Condition rules): lastTransitionTime moves only when the
 * status changes.
 */
export function setCondition(
  conditions: readonly Condition[],
  next: ConditionInput,
  generation: number,
  now: string,
): Condition[] {
  const old = conditions.find((c) => c.type === next.type);
  const lastTransitionTime = old && old.status === next.status ? old.lastTransitionTime : now;
  const updated: Condition = { ...next, lastTransitionTime, observedGeneration: generation };
  return old ? conditions.map((c) => (c === old ? updated : c)) : [...conditions, updated];
}

export function setConditions(
  conditions: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  generation: number,
  now: string,
): Condition[] {
  return next.reduce<Condition[]>((acc, c) => setCondition(acc, c, generation, now), [...(conditions ?? [])]);
}
