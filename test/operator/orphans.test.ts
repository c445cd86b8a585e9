/**
 * Orphans: objects metalpool made that no live claim explains are collected, and a server another
 * provisioner still acts on is never claimed. Real operator program, real API server, simulated provisioning.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import {
  BMC_JOB,
  HARDWARE,
  WORKFLOW,
  type BmcJob,
  type Hardware,
  type Workflow,
} from "../../lib/api/tinkerbell.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "../harness/kube.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { waitFor } from "../harness/ports.ts";
import { findDescendant } from "../harness/proc-stats.ts";
import { WorkflowSimulator, type SimulatedOutcome } from "../harness/workflow-simulator.ts";
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

/**
 * A namespace whose Workflows run until a test ends (a server in the middle of being written), or succeed.
 * Nothing runs bmc Jobs here (no rufio): a test says when one has run.
 */
async function world(prefix: string, outcome: SimulatedOutcome = "hang"): Promise<World> {
  const ns = await createNamespace(kc.makeApiClient(CoreV1Api), prefix);
  const sim = new WorkflowSimulator(kc, ns, () => outcome);
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

const jobs = async (w: World): Promise<BmcJob[]> => (await w.client.list<BmcJob>(BMC_JOB, w.namespace)).items;
const claimOf = async (w: World, hw: string): Promise<string | undefined> =>
  (await w.client.get<Hardware>(HARDWARE, w.namespace, hw)).metadata.labels?.["metalpool.io/pool-uid"];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A Ready one-server pool that powers through rufio, scaled to 0: its power-off Job waits for rufio. */
async function releasingThroughRufio(prefix: string): Promise<{ w: World; uid: string; job: BmcJob }> {
  const w = await world(prefix, "succeed");
  await w.client.create(HARDWARE, hardware(w.namespace, "h1", { bmc: true }));
  const created = await w.client.create(
    POOL,
    poolObject(w.namespace, "p", {
      replicas: 1,
      provisioning: { workflowOwner: "Operator", power: "TinkerbellBMC", wipeMode: "None" },
    }),
  );
  await w.until("p", "ready", (p) => p.status?.readyReplicas === 1);
  await w.setReplicas("p", 0);
  let job: BmcJob | undefined;
  await waitFor(
    "a power-off Job for h1",
    async () => {
      job = (await jobs(w)).find((j) => j.metadata.labels?.["metalpool.io/hardware"] === "h1");
      return Boolean(job);
    },
    30_000,
  );
  return { w, uid: created.metadata.uid ?? "", job: job as BmcJob };
}

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

  it("a release keeps the claim until its power-off Job ran; then the Job, no longer explained, is collected", async () => {
    const { w, uid, job } = await releasingThroughRufio("orphan-off");
    expect(job.metadata.labels).toMatchObject({ "metalpool.io/pool-uid": uid, "metalpool.io/pool": "p" });
    expect(job.spec.tasks).toEqual([{ powerAction: "off" }]);
    // rufio has not run it: the server stays the pool's, so the Job cannot power off a server that is free.
    await sleep(4_000);
    expect(await claimOf(w, "h1")).toBe(uid);
    await w.client.updateStatus(BMC_JOB, {
      ...job,
      status: { conditions: [{ type: "Completed", status: "True" }] },
    });
    await waitFor("h1 released", async () => (await claimOf(w, "h1")) === undefined, 30_000);
    await waitFor("the finished Job collected", async () => (await jobs(w)).length === 0, 30_000);
  });

  it("a power Job rufio has not run, whose server lost its claim, is deleted", async () => {
    const { w, job } = await releasingThroughRufio("orphan-job");
    // A person takes the server back while the Job waits, and pauses the pool so it does not act on it.
    await w.client.patch(POOL, w.namespace, "p", { spec: { paused: true } }, "merge");
    await w.client.patch(
      HARDWARE,
      w.namespace,
      "h1",
      { metadata: { labels: { "metalpool.io/pool-uid": null, "metalpool.io/pool": null } } },
      "merge",
    );
    await waitFor(
      "the orphaned Job is gone",
      async () => !(await jobs(w)).some((j) => j.metadata.uid === job.metadata.uid),
      30_000,
    );
  });

  it("a server still claimed by a pool that no longer exists is shown, claimed by no pool, and taken once a person releases it", async () => {
    const w = await world("orphan-claim-left");
    const op = operators.at(-1) as OperatorProcess;
    await w.client.create(HARDWARE, hardware(w.namespace, "h1"));
    const gone = await w.client.create(POOL, pool(w.namespace, 1));
    await waitFor("h1 claimed", async () => (await claimOf(w, "h1")) === gone.metadata.uid, 30_000);
    // The operator is held still while the finalizer goes and the pool is deleted: running, it could put its
    // finalizer back in between, and the pool would then be deleted the normal way (its server released).
    const program = findDescendant(op.child.pid ?? 0, "operator/main.ts");
    if (!program) throw new Error("the operator's node process not found");
    process.kill(program, "SIGSTOP");
    try {
      await w.client.patch(POOL, w.namespace, "p", { metadata: { finalizers: null } }, "merge");
      await w.client.delete(POOL, w.namespace, "p");
    } finally {
      process.kill(program, "SIGCONT");
    }
    const core = kc.makeApiClient(CoreV1Api);
    const warning = async (): Promise<string | undefined> =>
      (await core.listNamespacedEvent({ namespace: w.namespace })).items.find(
        (e) =>
          e.involvedObject.kind === "Hardware" &&
          e.involvedObject.name === "h1" &&
          e.reason === "OrphanedClaim",
      )?.message;
    await waitFor("an OrphanedClaim Event on h1", async () => Boolean(await warning()), 30_000);
    expect(await warning()).toContain(
      `kubectl label hardware -n ${w.namespace} h1 metalpool.io/pool-uid- metalpool.io/pool-`,
    );
    expect(op.logTail(500)).toMatch(/"hardware":"h1".*Hardware claimed by a pool that no longer exists/);
    const metrics = await (await fetch(`${await op.opsUrl()}/metrics`)).text();
    expect(metrics).toContain(`metalpool_hardware{namespace="${w.namespace}",state="orphaned-claim"} 1`);
    // Nothing released or wiped it, and another pool does not take it.
    await w.client.create(
      POOL,
      poolObject(w.namespace, "q", {
        replicas: 1,
        provisioning: { workflowOwner: "Operator", power: "Manual" },
      }),
    );
    await w.until("q", "a shortage", (x) => condition(x, "HardwareShortage")?.status === "True");
    expect(await claimOf(w, "h1")).toBe(gone.metadata.uid);
    // A person releases it as the Event says; then it is free to claim.
    await w.client.patch(
      HARDWARE,
      w.namespace,
      "h1",
      { metadata: { labels: { "metalpool.io/pool-uid": null, "metalpool.io/pool": null } } },
      "merge",
    );
    await w.until("q", "h1 claimed", (x) => (x.status?.replicas ?? 0) === 1);
  });

  it("a remote cluster's MachineDeployment of a pool whose finalizer was force-removed is deleted", async () => {
    const w = await world("orphan-remote");
    const core = kc.makeApiClient(CoreV1Api);
    // The "user cluster" is this API server reached through a kubeconfig Secret, in a namespace the
    // operator does not watch (as a KKP user cluster is not watched).
    const remote = await createNamespace(core, "orphan-user");
    await core.createNamespacedSecret({
      namespace: w.namespace,
      body: { metadata: { name: "user-cluster" }, stringData: { kubeconfig: kc.exportConfig() } },
    });
    await w.client.create(HARDWARE, hardware(w.namespace, "h1"));
    await w.client.create(
      POOL,
      poolObject(w.namespace, "p", {
        replicas: 1,
        template: {
          osImageURL: "http://images.test/ubuntu.raw.gz",
          kubeletVersion: "1.33.4",
          cluster: { kubeconfigSecretRef: { name: "user-cluster", key: "kubeconfig" }, namespace: remote },
        },
        provisioning: { workflowOwner: "MachineController", power: "Manual" },
      }),
    );
    await waitFor(
      "a MachineDeployment in the user cluster",
      async () => (await w.machineDeployments(remote)).length === 1,
      30_000,
    );
    const [md] = await w.machineDeployments(remote);
    await w.client.patch(POOL, w.namespace, "p", { metadata: { finalizers: null } }, "merge");
    await w.client.delete(POOL, w.namespace, "p");
    await waitFor(
      "the orphaned MachineDeployment is gone",
      async () => !(await w.machineDeployments(remote)).some((x) => x.metadata.uid === md?.metadata.uid),
      30_000,
    );
  });

  it("never claims a server whose BMC has a bmc Job rufio has not run yet", async () => {
    const w = await world("busy-bmc");
    await w.client.create(HARDWARE, hardware(w.namespace, "h1", { bmc: true }));
    const theirs = await w.client.create<BmcJob>(BMC_JOB, {
      apiVersion: "bmc.tinkerbell.org/v1alpha1",
      kind: "Job",
      metadata: { name: "someone-elses", namespace: w.namespace },
      spec: { machineRef: { name: "h1-bmc", namespace: w.namespace }, tasks: [{ powerAction: "off" }] },
    });
    await w.client.create(POOL, pool(w.namespace, 1));
    const p = await w.until(
      "p",
      "a shortage",
      (x) => condition(x, "Ready")?.status === "False" && x.status?.availableHardware === 0,
    );
    expect(p.status?.replicas ?? 0).toBe(0);
    expect(await claimOf(w, "h1")).toBeUndefined();
    await w.client.updateStatus(BMC_JOB, {
      ...theirs,
      status: { conditions: [{ type: "Completed", status: "True" }] },
    });
    await w.until("p", "h1 claimed", (x) => (x.status?.replicas ?? 0) === 1);
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
