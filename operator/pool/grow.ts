/** Step 5, grow: claim free eligible Hardware, chosen deterministically, with resourceVersion-guarded writes. */
import type { Hardware } from "../../lib/api/tinkerbell.ts";
import { claim } from "./hardware-writes.ts";
import type { Pass, ReconcilerDeps } from "./pass.ts";
import { chooseHardware, isEligible } from "./select.ts";
import type { MemberView, PoolObject } from "./types.ts";

export function availableHardware(d: ReconcilerDeps, pool: PoolObject, spec: PoolObject["spec"]): Hardware[] {
  return d.hardware
    .list()
    .filter((hw) => hw.metadata.namespace === pool.metadata.namespace && isEligible(hw, spec));
}

export async function claimMore(p: Pass, members: MemberView[], count: number): Promise<void> {
  const chosen = chooseHardware(
    availableHardware(p.d, p.pool, p.spec),
    members.map((m) => m.hw),
    p.spec,
    count,
  );
  for (const hw of chosen) {
    const claimed = await claim(p.d.client, hw, p.ref, p.d.now());
    if (!claimed) continue; // someone else wrote first; the next pass sees the new state
    p.d.hardware.upsertLocal(claimed);
    p.d.event(p.pool, "Normal", "Claimed", `claimed Hardware ${hw.metadata.name}`);
  }
}
