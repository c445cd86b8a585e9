/** Scale-down: which members go when the pool has more than it wants (pure). */
import { ANNOTATION } from "../../lib/api/labels.ts";
import type { MemberView } from "./types.ts";

/** Victims, in order: marked by a person, failed, not ready, then the newest claim. */
export function chooseVictims(members: readonly MemberView[], desired: number): MemberView[] {
  const active = members.filter((m) => !m.releasing);
  const excess = active.length - desired;
  if (excess <= 0) return [];
  const rank = (m: MemberView): number =>
    m.hw.metadata.annotations?.[ANNOTATION.deletePreferred] === "true"
      ? 0
      : m.phase === "Failed"
        ? 1
        : m.phase !== "Ready"
          ? 2
          : 3;
  const claimedAt = (m: MemberView): string => m.hw.metadata.annotations?.[ANNOTATION.claimedAt] ?? "";
  return [...active]
    .sort(
      (a, b) =>
        rank(a) - rank(b) ||
        claimedAt(b).localeCompare(claimedAt(a)) ||
        (a.hw.metadata.name ?? "").localeCompare(b.hw.metadata.name ?? ""),
    )
    .slice(0, excess);
}
