/**
 * The safety invariants, checked over everything the API server said during a chaos run. Hardware and
 * Workflow events are replayed in resourceVersion order (one etcd, so one total order), which makes "did
 * the pool hold this server at that moment" an exact question rather than a race between watches:
 *
 * - a Hardware's claim never passes from one pool to another without being free in between;
 * - a Workflow of a pool (provisioning or wipe) is created only while that pool holds its Hardware;
 * - a power request (the intent recorded on a Workflow, or a power-off recorded on a Hardware) is recorded
 *   only while the pool holds the server; the BMC is asked only after that record.
 *
 * The checker's own watches can break (an API server or etcd restart, a compaction): it relists, and each
 * object then shows only its latest state. Transitions across such a gap are not judged (they are counted,
 * gaps()); everything seen step by step is.
 *
 * One exception, because leader election is not fencing: a request a leader sent before its deadline can
 * reach the API server after it (held in a stalled network, or in the kernel of a killed process), when
 * another replica may already have released the server. Writes to the Hardware are resourceVersion-guarded
 * and fail then; a Workflow create or its intent record cannot be guarded by the Hardware. Such a late write
 * for a server that no pool holds is listed (lateWrites), not counted, as long as it cannot act: the server
 * is not netbooting (a release turns PXE off), no pool claims it while that Workflow is unfinished, and the
 * collector deletes it (the run checks that none is left). The BMC itself is never asked late: the operator
 * asks only after the intent write has answered and leadership is checked again. A late write for a server
 * another pool holds is a violation.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { ANNOTATION, LABEL } from "../../lib/api/labels.ts";
import { HARDWARE, WORKFLOW, type Hardware, type Workflow } from "../../lib/api/tinkerbell.ts";
import { Informer } from "../../lib/kube/informer.ts";
import type { KubeObject } from "../../lib/kube/rest.ts";

interface Seen {
  rv: number;
  kind: "Hardware" | "Workflow";
  type: "add" | "update" | "delete";
  obj: KubeObject;
  old?: KubeObject;
  /** Emitted by a relist after a gap: only the latest state, the changes in between unseen. */
  gap: boolean;
}

export class InvariantChecker {
  private readonly seen: Seen[] = [];
  private readonly hardware: Informer<Hardware>;
  private readonly workflows: Informer<Workflow>;

  constructor(kc: KubeConfig, namespace: string) {
    this.hardware = new Informer<Hardware>(kc, HARDWARE, { namespace });
    this.workflows = new Informer<Workflow>(kc, WORKFLOW, { namespace });
    this.record(this.hardware, "Hardware");
    this.record(this.workflows, "Workflow");
  }

  private record<T extends KubeObject>(inf: Informer<T>, kind: Seen["kind"]): void {
    const rv = (o: KubeObject): number => Number(o.metadata.resourceVersion) || 0;
    const gap = (): boolean => inf.isRelisting();
    inf.on("add", (obj) =>
      this.seen.push({ rv: rv(obj), kind, type: "add", obj: structuredClone(obj), gap: gap() }),
    );
    inf.on("update", (obj, old) => {
      if (obj === old || obj.metadata.resourceVersion === old?.metadata.resourceVersion) return; // a resync
      this.seen.push({
        rv: rv(obj),
        kind,
        type: "update",
        obj: structuredClone(obj),
        old: structuredClone(old),
        gap: gap(),
      });
    });
    inf.on("delete", (obj) =>
      this.seen.push({ rv: rv(obj), kind, type: "delete", obj: structuredClone(obj), gap: gap() }),
    );
  }

  async start(): Promise<void> {
    await Promise.all([this.hardware.start(), this.workflows.start()]);
  }

  stop(): void {
    this.hardware.stop();
    this.workflows.stop();
  }

  /** Events that came from a relist after a gap (their transitions are not judged). */
  gaps(): number {
    return this.seen.filter((s) => s.gap).length;
  }

  /** How many events were checked, by kind: a run that saw nothing proves nothing. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.seen) out[`${s.kind} ${s.type}`] = (out[`${s.kind} ${s.type}`] ?? 0) + 1;
    return out;
  }

  /** Late writes of a deposed leader for servers no pool held (see the header); reported, not violations. */
  lateWrites(): string[] {
    return this.judge().late;
  }

  violations(): string[] {
    return this.judge().violations;
  }

  private judge(): { violations: string[]; late: string[] } {
    const out: string[] = [];
    const late: string[] = [];
    /** Unfinished Workflows written late, by Hardware: the server must not be claimed while one exists. */
    const stray = new Map<string, Set<string>>();
    const claims = new Map<string, string>();
    const ordered = [...this.seen].sort((a, b) => a.rv - b.rv);
    for (const s of ordered) {
      const name = s.obj.metadata.name ?? "";
      if (s.kind === "Hardware") {
        const before = claims.get(name);
        const after = s.type === "delete" ? undefined : s.obj.metadata.labels?.[LABEL.poolUID];
        const strays = [...(stray.get(name) ?? [])];
        if (!before && after && strays.length && !s.gap)
          out.push(
            `rv ${s.rv}: Hardware ${name} claimed by pool ${after} while late Workflow(s) ${strays.join(", ")} exist`,
          );
        // Across a gap the states in between are unseen: a claim may have been free in between; not judged.
        if (before && after && before !== after && !s.gap)
          out.push(
            `rv ${s.rv}: Hardware ${name} passed from pool ${before} to pool ${after} without being free`,
          );
        const offBefore = s.old?.metadata.annotations?.[ANNOTATION.powerOffRequested];
        const offAfter = s.obj.metadata.annotations?.[ANNOTATION.powerOffRequested];
        if (offAfter && offAfter !== offBefore && !after && !s.gap)
          out.push(`rv ${s.rv}: power-off recorded on Hardware ${name}, which no pool held`);
        if (after) claims.set(name, after);
        else claims.delete(name);
        continue;
      }
      const pool = s.obj.metadata.labels?.[LABEL.poolUID];
      const hw = s.obj.metadata.labels?.[LABEL.hardware] ?? "";
      if (!pool) continue;
      const state = (s.obj as { status?: { state?: string } }).status?.state;
      if (s.type === "delete" || state === "SUCCESS" || state === "FAILED" || state === "TIMEOUT") {
        stray.get(hw)?.delete(name);
        continue;
      }
      const holder = claims.get(hw);
      if (s.gap) continue; // its creation or change happened at an unseen moment
      // Written for a server no pool holds: a deposed leader's late write (tolerated while it cannot act).
      const report = (what: string): void => {
        if (holder === undefined) {
          late.push(what);
          stray.set(hw, (stray.get(hw) ?? new Set()).add(name));
        } else out.push(what);
      };
      if (s.type === "add" && holder !== pool)
        report(
          `rv ${s.rv}: Workflow ${name} created for Hardware ${hw}, held by ${holder ?? "no pool"}, not its pool ${pool}`,
        );
      const requestedBefore = s.old?.metadata.annotations?.[ANNOTATION.powerRequested];
      const requested = s.obj.metadata.annotations?.[ANNOTATION.powerRequested];
      if (requested && requested !== requestedBefore && holder !== pool)
        report(
          `rv ${s.rv}: power requested through Workflow ${name} for Hardware ${hw}, held by ${holder ?? "no pool"}`,
        );
    }
    return { violations: out, late };
  }
}
