import type { LabelSelector } from "./baremetalpool.ts";

/** Kubernetes label-selector semantics: all matchLabels and all matchExpressions must hold. */
export function matchesSelector(
  labels: Record<string, string> | undefined,
  selector: LabelSelector | undefined,
): boolean {
  if (!selector) return true;
  const have = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (have[k] !== v) return false;
  for (const expr of selector.matchExpressions ?? []) {
    const value = have[expr.key];
    const values = expr.values ?? [];
    const ok =
      expr.operator === "In"
        ? value !== undefined && values.includes(value)
        : expr.operator === "NotIn"
          ? value === undefined || !values.includes(value)
          : expr.operator === "Exists"
            ? value !== undefined
            : value === undefined;
    if (!ok) return false;
  }
  return true;
}
