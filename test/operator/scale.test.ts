/**
 * The operator program against the real API server with the real Tinkerbell and machine-controller CRDs;
 * Workflow progress comes from the WorkflowSimulator (no container runtime here).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HARDWARE, type Hardware } from "../../lib/api/tinkerbell.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "../harness/kube.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { WorkflowSimulator } from "../harness/workflow-simulator.ts";
import { CoreV1Api } from "@kubernetes/client-node";
import { World, condition, hardware, poolObject } from "./fixtures.ts";

const kc = testKubeConfig();
let ns: string;
let world: World;
let sim: WorkflowSimulator;
let operator: OperatorProcess | undefined;

beforeAll(async () => {
  ns = await createNamespace(kc.makeApiClient(CoreV1Api), "scale");
  world = new World(kc, ns);
  sim = new WorkflowSimulator(kc, ns);
  sim.start();
  operator = startOperator({ kubeconfig: kubeconfigPath(), namespace: ns, identity: "scale-a" });
});

afterAll(async () => {
  sim.stop();
  expect(sim.errors).toEqual([]);
  await operator?.stop();
});

afterEach((ctx) => {
  if (ctx.task.result?.state === "fail" && operator) console.error(`--- operator log\n${operator.logTail()}`);
});

const uidOf = async (name: string): Promise<string> => (await world.pool(name))?.metadata.uid ?? "";

describe("scaling a pool 0 → 3 → 1 → 0", () => {
  it("claims, provisions, spreads across racks, and on scale-down wipes and releases", async () => {
    const racks = ["r1", "r1", "r1", "r2", "r2"];
    for (const [i, rack] of racks.entries()) {
      await world.client.create(
        HARDWARE,
        hardware(ns, `node-${i}`, { labels: { "metalpool.io/rack": rack, class: "compute" } }),
      );
    }
    // A server outside the selector, and a discovered one nobody approved: neither may ever be claimed.
    await world.client.create(
      HARDWARE,
      hardware(ns, "other", { labels: { class: "storage", "metalpool.io/rack": "r2" } }),
    );
    await world.client.create(
      HARDWARE,
      hardware(ns, "found", {
        labels: { class: "compute", "metalpool.io/discovered": "true", "metalpool.io/rack": "r3" },
      }),
    );

    await world.client.create(
      POOL,
      poolObject(ns, "workers", {
        replicas: 0,
        hardwareSelector: { matchLabels: { class: "compute" } },
        spreadKey: "metalpool.io/rack",
      }),
    );
    const zero = await world.until(
      "workers",
      "an empty pool to be Ready",
      (p) => condition(p, "Ready")?.status === "True",
    );
    expect(zero.metadata.finalizers).toContain("metalpool.io/release-hardware");
    expect(zero.status?.availableHardware).toBe(5);
    const uid = await uidOf("workers");

    await world.setReplicas("workers", 3);
    const three = await world.until(
      "workers",
      "3 ready members",
      (p) => p.status?.readyReplicas === 3 && condition(p, "Ready")?.status === "True",
    );
    expect(three.status?.members?.map((m) => m.phase)).toEqual(["Ready", "Ready", "Ready"]);
    const claimed = await world.claimedBy(uid);
    expect(claimed).toHaveLength(3);
    const perRack = (hs: Hardware[], rack: string): number =>
      hs.filter((h) => h.metadata.labels?.["metalpool.io/rack"] === rack).length;
    expect([perRack(claimed, "r1"), perRack(claimed, "r2")].sort()).toEqual([1, 2]); // spread, not 3 in r1
    expect(claimed.map((h) => h.metadata.name)).not.toContain("other");
    expect(claimed.map((h) => h.metadata.name)).not.toContain("found");
    for (const hw of claimed)
      expect(hw.spec.interfaces?.[0]?.netboot).toMatchObject({ allowPXE: true, allowWorkflow: true });
    // Operator-owned provisioning: Workflows only, nothing machine-controller would act on.
    expect(await world.machineDeployments()).toHaveLength(0);
    expect(
      (await world.workflows()).filter((w) => w.metadata.labels?.["metalpool.io/purpose"] === "provision"),
    ).toHaveLength(3);

    await world.setReplicas("workers", 1);
    await world.until(
      "workers",
      "scale down to 1 member",
      (p) => p.status?.members?.length === 1 && p.status.readyReplicas === 1,
    );
    const afterDown = await world.hardware();
    const stillClaimed = afterDown.filter((h) => h.metadata.labels?.["metalpool.io/pool-uid"] === uid);
    expect(stillClaimed).toHaveLength(1);
    const released = claimed
      .filter((h) => !stillClaimed.some((s) => s.metadata.name === h.metadata.name))
      .map((h) => afterDown.find((a) => a.metadata.name === h.metadata.name) as Hardware);
    expect(released).toHaveLength(2);
    for (const hw of released) {
      expect(hw.metadata.labels?.["metalpool.io/pool"]).toBeUndefined();
      expect(hw.spec.interfaces?.[0]?.netboot).toMatchObject({ allowPXE: false, allowWorkflow: false });
    }
    expect(sim.seen.filter((n) => n.endsWith("-wipe"))).toHaveLength(2); // each release ran a wipe first

    await world.setReplicas("workers", 0);
    await world.until(
      "workers",
      "scale down to no members",
      (p) => (p.status?.members?.length ?? -1) === 0 && condition(p, "Ready")?.status === "True",
    );
    expect(await world.claimedBy(uid)).toHaveLength(0);
    expect(await world.machineDeployments()).toHaveLength(0);
    expect(await world.workflows()).toHaveLength(0);
  });
});
