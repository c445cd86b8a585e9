/**
 * Orphans: objects metalpool made that no live claim explains are collected, and a server another
 * provisioner still acts on is never claimed. Real operator program, real API server, simulated provisioning.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { HARDWARE, WORKFLOW, type Hardware, type Workflow } from "../../lib/api/tinkerbell.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "../harness/kube.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { waitFor } from "../harness/ports.ts";
import { WorkflowSimulator } from "../harness/workflow-simulator.ts";
import { World, condition, hardware, poolObject } from "./fixtures.ts";

const kc = testKubeConfig();
let cleanup: (() => Promise<void>)[] = [];
let operators: OperatorProcess[] = [];
afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail")
    for (const op of operators) console.error(`--- operator ${op.identity}\n${op.logTail()}`);
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
  operators = [];
});

/** A namespace whose Workflows run until a test ends (a server in the middle of being written). */
async function world(prefix: string): Promise<World> {
  const ns = await createNamespace(kc.makeApiClient(CoreV1Api), prefix);
  const sim = new WorkflowSimulator(kc, ns, () => "hang");
  sim.start();
  cleanup.push(() => Promise.resolve(sim.stop()));
  const op = startOperator({ kubeconfig: kubeconfigPath(), namespace: ns, identity: "a" });
  operators.push(op);
  cleanup.push(() => op.stop());
  return new World(kc, ns);
}

const pool = (ns: string, replicas: number) =>
  poolObject(ns, "p", { replicas, provisioning: { workflowOwner: "Operator", power: "Manual" } });

const exists = async (w: World, wf: Workflow): Promise<boolean> =>
  (await w.workflows()).some((x) => x.metadata.uid === wf.metadata.uid);

describe("orphans", () => {
  it("a running Workflow whose Hardware lost its claim is deleted", async () => {
    const w = await world("orphan-claim");
    await w.client.create(HARDWARE, hardware(w.namespace, "h1"));
    await w.client.create(POOL, pool(w.namespace, 1));
    await waitFor("a provisioning Workflow", async () => (await w.workflows()).length === 1, 30_000);
    const [wf] = await w.workflows();
    // A person takes the server back mid-provisioning, and pauses the pool so it does not claim it again.
    await w.client.patch(POOL, w.namespace, "p", { spec: { paused: true } }, "merge");
    await w.client.patch(
      HARDWARE,
      w.namespace,
      "h1",
      { metadata: { labels: { "metalpool.io/pool-uid": null, "metalpool.io/pool": null } } },
      "merge",
    );
    await waitFor("the orphaned Workflow is gone", async () => !(await exists(w, wf as Workflow)), 30_000);
  });

  it("Workflows of a pool whose finalizer was force-removed are deleted", async () => {
    const w = await world("orphan-pool");
    await w.client.create(HARDWARE, hardware(w.namespace, "h1"));
    await w.client.create(POOL, pool(w.namespace, 1));
    await waitFor("a provisioning Workflow", async () => (await w.workflows()).length === 1, 30_000);
    const [wf] = await w.workflows();
    await w.client.patch(POOL, w.namespace, "p", { metadata: { finalizers: null } }, "merge");
    await w.client.delete(POOL, w.namespace, "p");
    await waitFor("the orphaned Workflow is gone", async () => !(await exists(w, wf as Workflow)), 30_000);
  });

  it("never claims a server that an unfinished Workflow names, and takes it once that Workflow is done", async () => {
    const w = await world("busy");
    await w.client.create(HARDWARE, hardware(w.namespace, "h1"));
    // Someone else's Workflow for h1 (no metalpool labels): the simulator runs it and it hangs in RUNNING.
    const theirs = await w.client.create<Workflow>(WORKFLOW, {
      apiVersion: "tinkerbell.org/v1alpha1",
      kind: "Workflow",
      metadata: { name: "someone-elses", namespace: w.namespace },
      spec: { templateRef: "whatever", hardwareRef: "h1" },
    });
    await w.client.create(POOL, pool(w.namespace, 1));
    const p = await w.until(
      "p",
      "a shortage",
      (x) => condition(x, "Ready")?.status === "False" && x.status?.availableHardware === 0,
    );
    expect(p.status?.replicas ?? 0).toBe(0);
    const h1 = await w.client.get<Hardware>(HARDWARE, w.namespace, "h1");
    expect(h1.metadata.labels?.["metalpool.io/pool-uid"]).toBeUndefined();
    await w.client.delete(WORKFLOW, w.namespace, theirs.metadata.name ?? "");
    await w.until("p", "h1 claimed", (x) => (x.status?.replicas ?? 0) === 1);
  });
});
