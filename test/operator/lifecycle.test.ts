/**
 * The operator's harder paths, each in its own namespace with its own operator process(es):
 * shortage and recovery, retry → quarantine → replacement, competing pools, leader election and failover,
 * crash mid-provisioning, deletion through the finalizer, an unreachable target cluster, power paths.
 * Where machine-controller owns the Workflows it runs as far as it builds here (test/harness/
 * machine-controller.ts): its own controllers and provider, a stand-in Machine loop, OSM and kubelet
 * fixtures; the Workflow simulator moves the Workflows.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { MACHINE } from "../../lib/api/machine-controller.ts";
import { HARDWARE, type Workflow } from "../../lib/api/tinkerbell.ts";
import { LEASE } from "../../lib/kube/lease.ts";
import type { KubeObject } from "../../lib/kube/rest.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { OsmFixture, joinNode } from "../harness/cluster-fixtures.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "../harness/kube.ts";
import {
  startGarbageCollector,
  startMachineController,
  type LoggedProcess,
} from "../harness/machine-controller.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { freePort, waitFor } from "../harness/ports.ts";
import { WorkflowSimulator, type Script } from "../harness/workflow-simulator.ts";
import { World, condition, hardware, poolObject } from "./fixtures.ts";

const kc = testKubeConfig();
type Machine = KubeObject;
let cleanup: (() => Promise<void>)[] = [];
let operators: OperatorProcess[] = [];
let machineControllers: LoggedProcess[] = [];

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail")
    for (const op of operators) console.error(`--- operator ${op.identity}\n${op.logTail()}`);
  if (ctx.task.result?.state === "fail")
    for (const mc of machineControllers) console.error(`--- machine-controller\n${mc.logTail()}`);
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
  operators = [];
  machineControllers = [];
});

async function setup(
  prefix: string,
  script: Script = () => "succeed",
): Promise<{ ns: string; world: World; sim: WorkflowSimulator; operator: (id: string) => OperatorProcess }> {
  const ns = await createNamespace(kc.makeApiClient(CoreV1Api), prefix);
  const world = new World(kc, ns);
  const sim = new WorkflowSimulator(kc, ns, script);
  sim.start();
  cleanup.push(() => {
    sim.stop();
    expect(sim.errors).toEqual([]);
    return Promise.resolve();
  });
  const operator = (identity: string): OperatorProcess => {
    const op = startOperator({ kubeconfig: kubeconfigPath(), namespace: ns, identity });
    operators.push(op);
    cleanup.push(() => op.stop());
    return op;
  };
  return { ns, world, sim, operator };
}

async function servers(
  world: World,
  names: string[],
  labels: Record<string, string> = {},
  bmc = false,
): Promise<void> {
  for (const name of names)
    await world.client.create(HARDWARE, hardware(world.namespace, name, { labels, bmc }));
}

/**
 * machine-controller (its MachineDeployment and MachineSet controllers and baremetal provider, with the
 * stand-in Machine loop) acting in `namespace`, and the OSM FIXTURE writing its bootstrap Secrets.
 */
function machineController(namespace: string): LoggedProcess {
  const osm = new OsmFixture(kc, kc.makeApiClient(CoreV1Api), namespace);
  const started = osm.start();
  const mc = startMachineController({ kubeconfigPath: kubeconfigPath(), namespace });
  machineControllers.push(mc);
  cleanup.push(async () => {
    await started;
    osm.stop();
    await mc.stop();
    expect(osm.errors).toEqual([]);
  });
  return mc;
}

/** kube-controller-manager's garbage collector: machine-controller's deletions are in the foreground. */
function garbageCollector(): void {
  const gc = startGarbageCollector({ kubeconfigPath: kubeconfigPath() });
  cleanup.push(() => gc.stop());
}

/** KUBELET FIXTURE: the provisioned server registers its Node (removed again after the test). */
async function nodeJoins(world: World, name: string): Promise<void> {
  const hw = await world.client.get<ReturnType<typeof hardware>>(HARDWARE, world.namespace, name);
  const core = kc.makeApiClient(CoreV1Api);
  await joinNode(core, name, hw.spec.interfaces?.[0]?.dhcp?.ip?.address ?? "", "1.33.4");
  cleanup.push(async () => {
    await core.deleteNode({ name }).catch(() => undefined);
  });
}

const provisioningWorkflows = (wfs: Workflow[]): Workflow[] =>
  wfs.filter((w) => w.metadata.labels?.["metalpool.io/purpose"] === "provision");

describe("hardware shortage", () => {
  it("reports what is missing and why, and recovers when approved hardware appears", async () => {
    const { world, operator } = await setup("short");
    await servers(world, ["s1"]);
    await world.client.create(
      HARDWARE,
      hardware(world.namespace, "s2", { labels: { "metalpool.io/discovered": "true" } }),
    );
    operator("a");
    await world.client.create(POOL, poolObject(world.namespace, "p", { replicas: 2 }));
    const short = await world.until(
      "p",
      "shortage",
      (p) => condition(p, "HardwareShortage")?.status === "True" && p.status?.readyReplicas === 1,
    );
    expect(condition(short, "HardwareShortage")?.message).toBe(
      "need 1 more server(s); 0 eligible, 2 match the selector (1 claimed by another pool, 1 discovered but not approved)",
    );
    expect(condition(short, "Ready")).toMatchObject({ status: "False", reason: "HardwareShortage" });
    // A person approves the discovered server: the pool takes it.
    await world.client.patch(
      HARDWARE,
      world.namespace,
      "s2",
      { metadata: { labels: { "metalpool.io/approved": "true" } } },
      "merge",
    );
    const ok = await world.until("p", "recovery", (p) => p.status?.readyReplicas === 2);
    expect(condition(ok, "HardwareShortage")?.status).toBe("False");
  });
});

describe("a server whose provisioning keeps failing", () => {
  it("is retried up to maxAttempts, then quarantined and replaced", async () => {
    const { world, sim, operator } = await setup("fail", (wf) =>
      wf.spec.hardwareRef === "bad" ? "fail" : "succeed",
    );
    await servers(world, ["bad", "good"]);
    operator("a");
    await world.client.create(
      POOL,
      poolObject(world.namespace, "p", {
        replicas: 1,
        provisioning: {
          workflowOwner: "Operator",
          power: "Manual",
          maxAttempts: 2,
          attemptTimeout: "10m",
          maxConcurrent: 5,
          wipeMode: "Metadata",
        },
      }),
    );
    const done = await world.until(
      "p",
      "replacement ready",
      (p) => p.status?.readyReplicas === 1 && p.status.members?.[0]?.hardware === "good",
    );
    const bad = await world.client.get<ReturnType<typeof hardware>>(HARDWARE, world.namespace, "bad");
    expect(bad.metadata.labels?.["metalpool.io/quarantined"]).toBe("true");
    expect(bad.metadata.labels?.["metalpool.io/pool-uid"]).toBeUndefined();
    expect(bad.metadata.annotations?.["metalpool.io/quarantine-reason"]).toBe(
      "2 provisioning attempts failed; last: attempt 2 FAILED: action stream-image: simulated: image download failed",
    );
    expect(sim.seen.filter((n) => n.startsWith("metalpool-bad-a"))).toEqual([
      "metalpool-bad-a1",
      "metalpool-bad-a2",
    ]);
    expect(done.status?.members).toHaveLength(1);
    const events = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: world.namespace });
    const reasons = events.items.map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(["Claimed", "ProvisioningFailed", "Quarantined"]));
  });

  it("keeps a slow Workflow Provisioning (not failed) while attemptTimeout has not passed", async () => {
    const { world, operator } = await setup("hang", () => "hang");
    await servers(world, ["slow"]);
    operator("a");
    await world.client.create(
      POOL,
      poolObject(world.namespace, "p", {
        replicas: 1,
        provisioning: {
          workflowOwner: "Operator",
          power: "Manual",
          maxAttempts: 1,
          attemptTimeout: "1m",
          maxConcurrent: 5,
          wipeMode: "None",
        },
      }),
    );
    const p = await world.until("p", "provisioning", (x) => x.status?.members?.[0]?.phase === "Provisioning");
    expect(p.status?.provisioningReplicas).toBe(1);
    expect(condition(p, "Progressing")?.status).toBe("True");
  });
});

describe("two pools competing for the same hardware", () => {
  it("never claim the same server twice", async () => {
    const { world, operator } = await setup("compete");
    await servers(world, ["c1", "c2", "c3"]);
    operator("a");
    await world.client.create(POOL, poolObject(world.namespace, "left", { replicas: 2 }));
    await world.client.create(POOL, poolObject(world.namespace, "right", { replicas: 2 }));
    await waitFor(
      "all servers claimed and ready",
      async () => {
        const [l, r] = [await world.pool("left"), await world.pool("right")];
        return (l?.status?.readyReplicas ?? 0) + (r?.status?.readyReplicas ?? 0) === 3;
      },
      60_000,
    );
    const [left, right] = [await world.pool("left"), await world.pool("right")];
    const leftHw = left?.status?.members?.map((m) => m.hardware) ?? [];
    const rightHw = right?.status?.members?.map((m) => m.hardware) ?? [];
    expect([...leftHw, ...rightHw].sort()).toEqual(["c1", "c2", "c3"]);
    expect(leftHw.filter((h) => rightHw.includes(h))).toEqual([]);
    expect(provisioningWorkflows(await world.workflows())).toHaveLength(3);
    const short = [left, right].find((p) => (p?.status?.members?.length ?? 0) === 1);
    expect(short && condition(short, "HardwareShortage")?.status).toBe("True");
  });
});

describe("two operator instances", () => {
  it("only the leader acts, and the other takes over when it dies", async () => {
    const { world, operator } = await setup("leader");
    await servers(world, ["l1", "l2"]);
    const a = operator("alpha");
    await waitFor(
      "alpha to lead",
      async () =>
        (
          await world.client.getOrNull<{ spec: { holderIdentity?: string } } & { metadata: object }>(
            LEASE,
            world.namespace,
            "metalpool-operator",
          )
        )?.spec.holderIdentity === "alpha",
      30_000,
    );
    const b = operator("beta");
    await world.client.create(POOL, poolObject(world.namespace, "p", { replicas: 1 }));
    await world.until("p", "one ready", (p) => p.status?.readyReplicas === 1);
    const lease = await world.client.get<{ spec: { holderIdentity?: string } } & { metadata: object }>(
      LEASE,
      world.namespace,
      "metalpool-operator",
    );
    expect(lease.spec.holderIdentity).toBe("alpha");
    a.signal("SIGKILL"); // a crash: the lease is not released, beta must wait for it to expire
    expect(await a.exitCode()).toBe(137);
    await waitFor(
      "beta to lead",
      async () =>
        (
          await world.client.get<{ spec: { holderIdentity?: string } } & { metadata: object }>(
            LEASE,
            world.namespace,
            "metalpool-operator",
          )
        ).spec.holderIdentity === "beta",
      30_000,
    );
    await world.setReplicas("p", 2);
    await world.until("p", "two ready after failover", (p) => p.status?.readyReplicas === 2);
    expect(b.exited()).toBe(false);
    expect(provisioningWorkflows(await world.workflows())).toHaveLength(2);
  });
});

describe("a SIGTERM to the leader", () => {
  it("finishes in-flight work, hands the Lease back at once, and exits 0", async () => {
    const { world, operator } = await setup("sigterm");
    await servers(world, ["g1"]);
    const first = operator("first");
    await world.client.create(POOL, poolObject(world.namespace, "p", { replicas: 1 }));
    await world.until("p", "one ready", (p) => p.status?.readyReplicas === 1);
    first.signal("SIGTERM");
    expect(await first.exitCode()).toBe(0);
    const lease = await world.client.get<
      { spec: { holderIdentity?: string; leaseDurationSeconds?: number } } & { metadata: object }
    >(LEASE, world.namespace, "metalpool-operator");
    expect(lease.spec.holderIdentity).toBeUndefined(); // released, so a successor need not wait for expiry
    operator("second");
    await waitFor(
      "second to lead",
      async () =>
        (await world.client.get<typeof lease>(LEASE, world.namespace, "metalpool-operator")).spec
          .holderIdentity === "second",
      15_000,
    );
    await world.setReplicas("p", 0);
    await world.until("p", "scaled to zero by the successor", (p) => (p.status?.members?.length ?? -1) === 0);
  });
});

describe("a crash mid-provisioning", () => {
  it("converges after restart with no duplicate MachineDeployments, Workflows or claims", async () => {
    let release = false;
    const { world, operator } = await setup("crash", () => (release ? "succeed" : "hang"));
    await servers(world, ["k1", "k2", "k3"]);
    const first = operator("first");
    await world.client.create(POOL, poolObject(world.namespace, "p", { replicas: 2 }));
    await world.until(
      "p",
      "two provisioning",
      (p) =>
        p.status?.provisioningReplicas === 2 &&
        (p.status.members ?? []).every((m) => m.phase === "Provisioning"),
    );
    first.signal("SIGKILL");
    expect(await first.exitCode()).toBe(137);
    await new Promise((r) => setTimeout(r, 500));
    operator("second");
    release = true;
    const p = await world.until("p", "two ready after restart", (x) => x.status?.readyReplicas === 2);
    const uid = p.metadata.uid ?? "";
    expect(await world.claimedBy(uid)).toHaveLength(2);
    expect(provisioningWorkflows(await world.workflows())).toHaveLength(2);
    // Operator-owned provisioning creates nothing machine-controller would act on (no second provisioner).
    expect(await world.machineDeployments()).toHaveLength(0);
  });
});

describe("deleting a pool", () => {
  it("deprovisions and releases every server before the finalizer lets the pool go", async () => {
    const { world, operator } = await setup("delete");
    await servers(world, ["d1", "d2"]);
    operator("a");
    await world.client.create(POOL, poolObject(world.namespace, "p", { replicas: 2 }));
    const ready = await world.until("p", "two ready", (p) => p.status?.readyReplicas === 2);
    const uid = ready.metadata.uid ?? "";
    await world.client.delete(POOL, world.namespace, "p");
    await waitFor("pool gone", async () => (await world.pool("p")) === null, 60_000);
    expect(await world.claimedBy(uid)).toHaveLength(0);
    expect(await world.machineDeployments()).toHaveLength(0);
    expect(await world.workflows()).toHaveLength(0);
  });
});

describe("an unreachable target cluster", () => {
  it("sets Degraded with a clear message and claims nothing", async () => {
    const { world, operator } = await setup("target");
    await servers(world, ["t1"]);
    const closedPort = await freePort(); // nothing listens there
    const kubeconfig = `apiVersion: v1\nkind: Config\nclusters: [{name: gone, cluster: {server: 'https://127.0.0.1:${closedPort}'}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: gone, user: u}}]\ncurrent-context: c\n`;
    await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
      namespace: world.namespace,
      body: { metadata: { name: "user-cluster" }, stringData: { kubeconfig } },
    });
    operator("a");
    await world.client.create(
      POOL,
      poolObject(world.namespace, "p", {
        replicas: 1,
        template: {
          osImageURL: "http://images.test/u.raw",
          kubeletVersion: "1.33.4",
          cluster: { kubeconfigSecretRef: { name: "user-cluster" } },
        },
      }),
    );
    const p = await world.until(
      "p",
      "degraded",
      (x) => condition(x, "Degraded")?.reason === "TargetClusterUnreachable",
    );
    expect(condition(p, "Degraded")?.message).toMatch(
      /^target cluster unreachable: GET 127\.0\.0\.1:\d+\/apis\/cluster\.k8s\.io\/v1alpha1\/namespaces\/.*\/machinedeployments: .*ECONNREFUSED/,
    );
    expect(await world.claimedBy(p.metadata.uid ?? "")).toHaveLength(0);
  });
});

describe("power paths", () => {
  it("TinkerbellBMC with an operator-owned Workflow asks tink-controller for a netboot through bootOptions", async () => {
    const { world, operator } = await setup("bmc");
    await servers(world, ["b1"], {}, true);
    operator("a");
    await world.client.create(
      POOL,
      poolObject(world.namespace, "p", {
        replicas: 1,
        provisioning: { workflowOwner: "Operator", power: "TinkerbellBMC" },
      }),
    );
    await world.until("p", "ready", (p) => p.status?.readyReplicas === 1);
    const [wf] = provisioningWorkflows(await world.workflows());
    expect(wf?.spec.bootOptions).toEqual({ toggleAllowNetboot: true, bootMode: "netboot" });
  });

  it("TinkerbellBMC without a bmcRef fails the attempt with a message, and is never powered blindly", async () => {
    const { world, operator } = await setup("nobmc");
    await servers(world, ["n1"]);
    operator("a");
    await world.client.create(
      POOL,
      poolObject(world.namespace, "p", {
        replicas: 1,
        provisioning: { workflowOwner: "Operator", power: "TinkerbellBMC" },
      }),
    );
    const p = await world.until(
      "p",
      "degraded",
      (x) => condition(x, "Degraded")?.reason === "ProvisioningFailed",
    );
    expect(condition(p, "Degraded")?.message).toBe(
      "n1: Hardware n1 has no spec.bmcRef; add a bmc.tinkerbell.org Machine or set provisioning.power",
    );
    expect(p.status?.members?.[0]).toMatchObject({ hardware: "n1", phase: "Failed", attempts: 1 });
    expect(await world.workflows()).toHaveLength(0);
  });

  it("with machine-controller owning Workflows, finds the Workflow it created and reports Ready once the Node is", async () => {
    const { world, operator } = await setup("mc");
    await servers(world, ["m1"]);
    machineController(world.namespace);
    operator("a");
    await world.client.create(
      POOL,
      poolObject(world.namespace, "p", {
        replicas: 1,
        provisioning: { workflowOwner: "MachineController", power: "Manual" },
      }),
    );
    await waitFor("MachineDeployment", async () => (await world.machineDeployments()).length === 1, 30_000);
    const [md] = await world.machineDeployments();
    expect(md?.spec.replicas).toBe(1);
    expect(md?.spec.strategy?.rollingUpdate).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    const { driverSpec } = md?.spec.template.spec.providerSpec.value.cloudProviderSpec as {
      driverSpec: { hardwareRef: { name: string } };
    };
    expect(driverSpec.hardwareRef.name).toBe("m1");
    // machine-controller's provider, not metalpool, creates the Workflow (and stages the Hardware).
    await waitFor(
      "machine-controller's Workflow to succeed",
      async () => (await world.workflows())[0]?.status?.state === "SUCCESS",
      60_000,
    );
    const [wf] = await world.workflows();
    expect(wf?.spec.templateRef).toBe("provision-worker-node");
    expect(wf?.metadata.labels?.["app.kubernetes.io/hardware-reference"]).toBe("m1");
    // The Workflow is done but the Node is not: not Ready yet.
    const waiting = await world.until("p", "a fresh status", (x) => (x.status?.members?.length ?? 0) === 1);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await world.pool("p"))?.status?.members?.[0]?.phase).toBe("Provisioning");
    expect(waiting.status?.readyReplicas).toBe(0);
    await nodeJoins(world, "m1");
    const p = await world.until("p", "ready once the Node is", (x) => x.status?.readyReplicas === 1);
    expect(p.status?.members?.[0]).toMatchObject({ hardware: "m1", phase: "Ready", attempts: 1 });
  });
});

describe("machine-controller mode retries", () => {
  it("replaces the MachineDeployment after a failed Workflow and clears the Hardware state machine-controller left", async () => {
    let first = "";
    const { world, operator } = await setup("mcretry", (wf) => {
      first ||= wf.metadata.name ?? "";
      return wf.metadata.name === first ? "fail" : "succeed";
    });
    await servers(world, ["r1"]);
    machineController(world.namespace);
    garbageCollector();
    operator("a");
    await world.client.create(
      POOL,
      poolObject(world.namespace, "p", {
        replicas: 1,
        provisioning: { workflowOwner: "MachineController", power: "Manual", maxAttempts: 3 },
      }),
    );
    await waitFor(
      "first MachineDeployment",
      async () => (await world.machineDeployments()).length === 1,
      30_000,
    );
    const firstUid = (await world.machineDeployments())[0]?.metadata.uid;
    await waitFor(
      "a replacement MachineDeployment",
      async () => {
        const mds = await world.machineDeployments();
        return mds.length === 1 && mds[0]?.metadata.uid !== firstUid && !mds[0]?.metadata.deletionTimestamp;
      },
      90_000,
    );
    const [second] = await world.machineDeployments();
    expect(second?.metadata.annotations?.["metalpool.io/attempt"]).toBe("2");
    const hw = await world.client.get<ReturnType<typeof hardware>>(HARDWARE, world.namespace, "r1");
    expect(hw.metadata.annotations?.["metalpool.io/attempts"]).toBe("1");
    expect((await world.workflows()).map((w) => w.metadata.name)).not.toContain(first); // the failed one is gone
    // Cleared, or machine-controller would never provision it again: the second Workflow is proof.
    await waitFor(
      "the second Workflow to succeed",
      async () => (await world.workflows()).some((w) => w.status?.state === "SUCCESS"),
      60_000,
    );
    await nodeJoins(world, "r1");
    const p = await world.until("p", "ready on the second attempt", (x) => x.status?.readyReplicas === 1);
    expect(p.status?.members?.[0]).toMatchObject({ hardware: "r1", phase: "Ready", attempts: 2 });
  });
});

describe("machine-controller mode scale-down", () => {
  it("releases a server only after machine-controller has deleted its Machine", async () => {
    const { world, operator } = await setup("mcdown");
    await servers(world, ["d1"]);
    const mc = machineController(world.namespace);
    garbageCollector();
    operator("a");
    await world.client.create(
      POOL,
      poolObject(world.namespace, "p", {
        replicas: 1,
        provisioning: { workflowOwner: "MachineController", power: "Manual", wipeMode: "None" },
      }),
    );
    await waitFor(
      "machine-controller's Workflow to succeed",
      async () => (await world.workflows())[0]?.status?.state === "SUCCESS",
      60_000,
    );
    await nodeJoins(world, "d1");
    const ready = await world.until("p", "ready", (x) => x.status?.readyReplicas === 1);
    const uid = ready.metadata.uid ?? "";
    // machine-controller is down while the pool scales down: its Machine keeps its finalizers.
    await mc.stop();
    await world.setReplicas("p", 0);
    await waitFor(
      "the Machine deleting",
      async () =>
        (await world.client.list<Machine>(MACHINE, world.namespace)).items.some(
          (m) => m.metadata.deletionTimestamp,
        ),
      60_000,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await world.claimedBy(uid)).toHaveLength(1); // the Machine still holds it
    expect((await world.pool("p"))?.status?.members?.[0]?.phase).toBe("Deprovisioning");
    machineController(world.namespace);
    await world.until("p", "released", (x) => (x.status?.members?.length ?? -1) === 0, 60_000);
    expect(await world.claimedBy(uid)).toHaveLength(0);
    expect((await world.client.list<Machine>(MACHINE, world.namespace)).items).toHaveLength(0);
    expect(await world.machineDeployments()).toHaveLength(0);
  });
});
