/**
 * Reconciling one BaremetalPool — the page a newcomer reads. Every pass:
 *   1. guard:  finalizer, valid spec, reachable target cluster
 *   2. look:   one read-only view (members' Hardware, MachineDeployments, Machines, Workflows; free servers)
 *   3. plan:   pure — every action of this pass, when to look again, the status (see member-table.ts)
 *   4. apply:  one switch over the actions; power, wipe and release re-read their preconditions first
 *   5. report: status from the plan and what applying it changed, written only when it differs
 * A crash anywhere converges on restart: names are deterministic, creates are idempotent, and the attempt
 * count lives in the objects. A deleted pool wants 0 members; the finalizer goes once none is left.
 */
import {
  POOL,
  baremetalPoolSpecSchema,
  poolRef,
  type BaremetalPoolSpec,
  type PoolRef,
} from "../../lib/api/baremetalpool.ts";
import { FINALIZER } from "../../lib/api/labels.ts";
import { apply } from "./apply.ts";
import { errorText, type ReconcilerDeps, type TargetCluster } from "./deps.ts";
import { look, lookAtTarget, type TargetObjects } from "./look.ts";
import { plan } from "./plan.ts";
import { buildStatus, problemStatus, writeStatus } from "./report.ts";
import { statusWriteDelay } from "./status-pace.ts";
import type { Outcome, PoolObject } from "./types.ts";

export { POOL };
export type { ReconcilerDeps, TargetCluster };

/** How soon to look again after member actions failed (the errors are in the status meanwhile). */
const MEMBER_ERROR_REQUEUE_MS = 5_000;

export class PoolReconciler {
  private readonly d: ReconcilerDeps;
  /** Templates this replica has ensured, so each is written once per content change. */
  private readonly templates = new Map<string, string>();
  /** When this replica last wrote each pool's status (by pool UID), to pace a busy pool's writes. */
  private readonly statusWrittenAt = new Map<string, number>();

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
  }

  /** One pass. `signal` (leadership) also ends every API call of the pass on this cluster when it aborts. */
  async reconcile(pool: PoolObject, signal?: AbortSignal): Promise<Outcome> {
    const d: ReconcilerDeps = signal ? { ...this.d, client: this.d.client.withSignal(signal) } : this.d;
    // 1. guard
    const deleting = Boolean(pool.metadata.deletionTimestamp);
    if (!deleting && !pool.metadata.finalizers?.includes(FINALIZER)) {
      await setFinalizers(d, pool, [...(pool.metadata.finalizers ?? []), FINALIZER]);
      return { requeueAfterMs: 0 };
    }
    const parsed = baremetalPoolSpecSchema.safeParse(pool.spec);
    if (!parsed.success) {
      // The CRD rejects most bad specs; this catches the rest (e.g. a CRD older than the operator). Terminal:
      // no retry storm, the condition says what to fix, and a spec change brings the pool back.
      const message = parsed.error.issues.map((i) => `spec.${i.path.join(".")}: ${i.message}`).join("; ");
      await writeStatus(
        d.client,
        pool,
        problemStatus(
          pool,
          [
            { type: "Ready", status: "False", reason: "InvalidSpec", message },
            { type: "Degraded", status: "True", reason: "InvalidSpec", message },
          ],
          d.now(),
        ),
      );
      return {};
    }
    const spec = parsed.data;
    const ref = poolRef(pool);
    const { target, objects } = await reachTarget(d, pool, ref, spec);
    const unavailable =
      d.unavailable?.(spec) ??
      (spec.provisioning.workflowOwner === "MachineController" && !objects.mdServed
        ? `provisioning.workflowOwner MachineController needs MachineDeployments (cluster.k8s.io/v1alpha1) in the target cluster, which it does not serve; install machine-controller there or set workflowOwner to Operator`
        : undefined);
    if (unavailable && !deleting) {
      // Nothing is done for the pool, not even a release: every action of its mode would fail half-way.
      const problem = [
        { type: "Ready", status: "False", reason: "APINotServed", message: unavailable },
        { type: "Degraded", status: "True", reason: "APINotServed", message: unavailable },
      ] as const;
      await writeStatus(d.client, pool, problemStatus(pool, [...problem], d.now()));
      return {};
    }

    // 2–3. look, plan
    const t0 = performance.now();
    const view = look(d, pool, ref, spec, objects);
    const now = d.now();
    const p = plan(view, now.getTime());
    const t1 = performance.now();

    // 4. apply
    const applied = await apply(
      { d, pool, ref, spec, target, templates: this.templates, passTemplates: new Map(), signal },
      p.actions,
    );
    const t2 = performance.now();
    // Metrics see what this pass did, the last pass of a deleted pool included.
    d.observe?.({
      pool,
      members: p.members.map((m) => ({
        view: m.view,
        phase: m.phase,
        attempts: m.attempts,
        left: applied.left.has(m.view.hw.metadata.name ?? ""),
        ...(m.lastError ? { lastError: m.lastError } : {}),
      })),
      claimed: applied.claimed.length,
      now,
    });
    if (deleting && view.members.length === applied.left.size && applied.errors.size === 0) {
      await setFinalizers(
        d,
        pool,
        (pool.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
      );
      this.statusWrittenAt.delete(ref.uid);
      return {};
    }

    // 5. report
    const status = buildStatus(
      pool,
      p.members,
      p.conditions,
      {
        errors: applied.errors,
        claimed: applied.claimed.map((h) => h.metadata.name ?? ""),
        left: applied.left,
      },
      p.eligible,
      now,
    );
    const statusDelay = statusWriteDelay({
      previous: pool.status,
      next: status,
      busy: p.actions.some((a) => a.kind !== "wait"),
      errors: applied.errors.size,
      lastWriteAt: this.statusWrittenAt.get(ref.uid),
      now: d.now().getTime(),
    });
    const wrote = statusDelay === 0 && (await writeStatus(d.client, pool, status));
    if (wrote) this.statusWrittenAt.set(ref.uid, d.now().getTime());
    d.log.debug(
      {
        pool: ref.name,
        members: view.members.length,
        actions: p.actions.length,
        lookPlanMs: Math.round(t1 - t0),
        applyMs: Math.round(t2 - t1),
        reportMs: Math.round(performance.now() - t2),
        wroteStatus: wrote,
        statusDelayMs: statusDelay,
      },
      "pass",
    );
    const requeues = [
      p.requeueAfterMs,
      applied.errors.size ? MEMBER_ERROR_REQUEUE_MS : undefined,
      // A status write put off must still happen, even if nothing else brings the pool back.
      statusDelay || undefined,
    ].filter((ms): ms is number => ms !== undefined);
    return requeues.length ? { requeueAfterMs: Math.min(...requeues) } : {};
  }
}

/** Resolves the target cluster and reads this pool's objects there; otherwise Degraded with the reason, and retry. */
async function reachTarget(
  d: ReconcilerDeps,
  pool: PoolObject,
  ref: PoolRef,
  spec: BaremetalPoolSpec,
): Promise<{ target: TargetCluster; objects: TargetObjects }> {
  try {
    const target = await d.target(pool, spec);
    return { target, objects: await lookAtTarget(target, ref) };
  } catch (err) {
    const message = `target cluster unreachable: ${errorText(err)}`;
    await writeStatus(
      d.client,
      pool,
      problemStatus(
        pool,
        [
          { type: "Ready", status: "False", reason: "TargetClusterUnreachable", message },
          { type: "Degraded", status: "True", reason: "TargetClusterUnreachable", message },
        ],
        d.now(),
      ),
    );
    throw new Error(message, { cause: err });
  }
}

async function setFinalizers(d: ReconcilerDeps, pool: PoolObject, finalizers: string[]): Promise<void> {
  // resourceVersion in a merge patch makes it conditional: a concurrent change fails with 409, never lost.
  const patch = { metadata: { finalizers, resourceVersion: pool.metadata.resourceVersion } };
  await d.client.patch(POOL, pool.metadata.namespace, pool.metadata.name ?? "", patch, "merge");
}
