/**
 * Reconciling one BaremetalPool — the page a newcomer reads. Every pass rebuilds the picture from the
 * world (Hardware, Workflows, MachineDeployments), so a crash at any point converges on restart:
 *   1. guard: finalizer, valid spec, reachable target cluster
 *   2. look: members (Hardware claimed by this pool's UID) with their MachineDeployment and Workflows
 *   3. shrink: mark victims, deprovision them (delete MachineDeployment → wipe → release)
 *   4. progress: drive each remaining member (MachineDeployment, Workflow, power, retry, quarantine)
 *   5. grow: claim free eligible Hardware up to spec.replicas
 *   6. report: status and conditions, written once and only when changed; Events along the way
 * A paused pool skips 3–5. A deleted pool wants 0 members; the finalizer goes once none is left.
 */
import { baremetalPoolSpecSchema } from "../../lib/api/baremetalpool.ts";
import { FINALIZER } from "../../lib/api/labels.ts";
import type { MachineDeployment } from "../../lib/api/machine-controller.ts";
import type { PoolRef } from "../provision/machine-deployment.ts";
import type { ConditionInput } from "./conditions.ts";
import { availableHardware, claimMore } from "./grow.ts";
import { machineDeployments, observeMembers } from "./observe.ts";
import { errorText, type Pass, type ReconcilerDeps, type TargetCluster } from "./pass.ts";
import { progress } from "./progress.ts";
import { POOL } from "./resource.ts";
import { deprovision, markVictims } from "./shrink.ts";
import { PROGRESSING_PHASES, buildStatus, poolConditions, selectedHardware, writeStatus } from "./status.ts";
import type { MemberView, Outcome, PoolObject } from "./types.ts";

export { POOL };
export type { ReconcilerDeps, TargetCluster };

export class PoolReconciler {
  private readonly d: ReconcilerDeps;
  constructor(deps: ReconcilerDeps) {
    this.d = deps;
  }

  async reconcile(pool: PoolObject): Promise<Outcome> {
    const ref: PoolRef = {
      name: pool.metadata.name ?? "",
      namespace: pool.metadata.namespace ?? "",
      uid: pool.metadata.uid ?? "",
    };
    const deleting = Boolean(pool.metadata.deletionTimestamp);
    if (!deleting && !pool.metadata.finalizers?.includes(FINALIZER)) {
      await this.setFinalizers(pool, [...(pool.metadata.finalizers ?? []), FINALIZER]);
      return { requeueAfterMs: 0 };
    }
    const parsed = baremetalPoolSpecSchema.safeParse(pool.spec);
    if (!parsed.success) {
      // The CRD rejects most bad specs; this catches the rest (e.g. a CRD older than the operator). Terminal:
      // no retry storm, the condition says what to fix, and a spec change brings the pool back.
      const message = parsed.error.issues.map((i) => `spec.${i.path.join(".")}: ${i.message}`).join("; ");
      await writeStatus(
        this.d,
        pool,
        buildStatus(
          pool,
          [],
          [{ type: "Degraded", status: "True", reason: "InvalidSpec", message }],
          0,
          this.d.now(),
        ),
      );
      return {};
    }
    const spec = parsed.data;
    const desired = deleting ? 0 : spec.replicas;
    const { target, mds } = await this.reachTarget(pool, ref, spec);
    const p: Pass = { d: this.d, pool, ref, spec, target };

    let members = observeMembers(this.d, ref, mds);
    const problems: ConditionInput[] = [];
    if (!spec.paused || deleting) members = await this.act(p, mds, members, desired, problems);

    if (deleting && members.length === 0) {
      await this.setFinalizers(
        pool,
        (pool.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
      );
      return {};
    }
    const eligible = availableHardware(this.d, pool, spec).length;
    const conditions = poolConditions({
      spec,
      members,
      desired,
      eligible,
      selected: selectedHardware(this.d, pool, spec),
      problems,
      deleting,
    });
    await writeStatus(this.d, pool, buildStatus(pool, members, conditions, eligible, this.d.now()));
    this.d.observe?.(pool, members);
    const busy =
      members.some((m) => PROGRESSING_PHASES.has(m.phase)) ||
      members.length !== desired ||
      problems.length > 0;
    return { requeueAfterMs: busy ? 5_000 : 60_000 };
  }

  /** Steps 3–5; returns the members as they are afterwards. Member errors become conditions, not failures. */
  private async act(
    p: Pass,
    mds: Map<string, MachineDeployment>,
    before: MemberView[],
    desired: number,
    problems: ConditionInput[],
  ): Promise<MemberView[]> {
    await markVictims(p, before, desired);
    // Marking victims wrote only Hardware (already in the cache): the MachineDeployments are unchanged.
    const members = observeMembers(this.d, p.ref, mds);
    const inFlight = (): number => members.filter((m) => m.phase === "Provisioning").length;
    for (const m of members) {
      try {
        if (m.releasing) await deprovision(p, m);
        else await progress(p, m, inFlight);
      } catch (err) {
        m.lastError = errorText(err);
        this.d.log.warn(
          { pool: p.ref.name, hardware: m.hw.metadata.name, err: m.lastError },
          "member step failed",
        );
        problems.push({
          type: "Degraded",
          status: "True",
          reason: "MemberError",
          message: `${m.hw.metadata.name}: ${m.lastError}`,
        });
      }
    }
    const active = members.filter((m) => !m.releasing).length;
    if (!p.pool.metadata.deletionTimestamp && active < desired) await claimMore(p, members, desired - active);
    return this.carryErrors(members, await this.look(p));
  }

  private async look(p: Pass): Promise<MemberView[]> {
    return observeMembers(this.d, p.ref, await machineDeployments(p.target, p.ref));
  }

  /** Errors found while acting belong in the status of the fresh view taken afterwards. */
  private carryErrors(before: MemberView[], after: MemberView[]): MemberView[] {
    for (const m of after) {
      const old = before.find((b) => b.hw.metadata.name === m.hw.metadata.name);
      if (old?.lastError && !m.lastError) m.lastError = old.lastError;
    }
    return after;
  }

  /**
   * Resolves the target cluster and lists this pool's MachineDeployments there — the first look of the pass
   * and the proof that the cluster answers. Otherwise Degraded with the reason, and retry.
   */
  private async reachTarget(
    pool: PoolObject,
    ref: PoolRef,
    spec: PoolObject["spec"],
  ): Promise<{ target: TargetCluster; mds: Map<string, MachineDeployment> }> {
    try {
      const target = await this.d.target(pool, spec);
      return { target, mds: await machineDeployments(target, ref) };
    } catch (err) {
      const message = `target cluster unreachable: ${errorText(err)}`;
      const members = observeMembers(this.d, ref, new Map());
      const conditions: ConditionInput[] = [
        { type: "Ready", status: "False", reason: "TargetClusterUnreachable", message },
        { type: "Degraded", status: "True", reason: "TargetClusterUnreachable", message },
      ];
      await writeStatus(
        this.d,
        pool,
        buildStatus(pool, members, conditions, availableHardware(this.d, pool, spec).length, this.d.now()),
      );
      throw new Error(message, { cause: err });
    }
  }

  private async setFinalizers(pool: PoolObject, finalizers: string[]): Promise<void> {
    // resourceVersion in a merge patch makes it conditional: a concurrent change fails with 409, never lost.
    const patch = { metadata: { finalizers, resourceVersion: pool.metadata.resourceVersion } };
    await this.d.client.patch(POOL, pool.metadata.namespace, pool.metadata.name ?? "", patch, "merge");
  }
}
