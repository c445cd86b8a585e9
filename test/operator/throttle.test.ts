/**
 * maxConcurrent on the real API server, in both ownership modes: a pool of 6 with maxConcurrent 2 never has
 * more than 2 members provisioning, nor more than 2 power requests outstanding, from the first provisioning
 * action (Workflow or MachineDeployment) until Ready. The reconciler runs in-process with a recording power
 * control; provisioning finishes when the test says so, one server at a time.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { LABEL } from "../../lib/api/labels.ts";
import type { MachineDeployment } from "../../lib/api/machine-controller.ts";
import { HARDWARE, WORKFLOW, type Hardware, type Workflow } from "../../lib/api/tinkerbell.ts";
import { Informer } from "../../lib/kube/informer.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { createLogger } from "../../lib/log.ts";
import { POOL, PoolReconciler } from "../../operator/pool/reconcile.ts";
import type { PoolObject } from "../../operator/pool/types.ts";
import type { PowerControl } from "../../operator/provision/power.ts";
import { createNamespace, testKubeConfig } from "../harness/kube.ts";
import { waitFor } from "../harness/ports.ts";
import { World, hardware, poolObject } from "./fixtures.ts";

const kc = testKubeConfig();
const client = new KubeClient(kc);
const informers: { stop(): void }[] = [];

afterAll(() => {
  for (const i of informers) i.stop();
});

interface Setup {
  world: World;
  reconciler: PoolReconciler;
  powered: Set<string>;
  wfInformer: Informer<Workflow>;
}

async function setup(prefix: string): Promise<Setup> {
  const ns = await createNamespace(kc.makeApiClient(CoreV1Api), prefix);
  const hw = new Informer<Hardware>(kc, HARDWARE, { namespace: ns });
  const wf = new Informer<Workflow>(kc, WORKFLOW, { namespace: ns });
  informers.push(hw, wf);
  await Promise.all([hw.start(), wf.start()]);
  const powered = new Set<string>();
  const power: PowerControl = {
    netbootOnce: (h) => {
      powered.add(h.metadata.name ?? "");
      return Promise.resolve();
    },
    powerOff: () => Promise.resolve(),
  };
  const reconciler = new PoolReconciler({
    client,
    hardware: hw,
    workflows: wf,
    target: (pool) => Promise.resolve({ client, namespace: pool.metadata.namespace ?? "" }),
    power: () => power,
    event: () => undefined,
    now: () => new Date(),
    log: createLogger("test", "error"),
    retryBackoffMs: 1000,
  });
  const world = new World(kc, ns);
  for (const name of ["s1", "s2", "s3", "s4", "s5", "s6"])
    await client.create(HARDWARE, hardware(ns, name, { bmc: true }));
  await waitFor("hardware cached", () => Promise.resolve(hw.list().length === 6), 10_000);
  return { world, reconciler, powered, wfInformer: wf };
}

const isDone = (wf: Workflow): boolean => wf.status?.state === "SUCCESS";

/** One pass with fresh reads, then wait until the caches have caught up with what it wrote. */
async function pass(s: Setup, name: string): Promise<void> {
  await s.reconciler.reconcile((await s.world.pool(name)) as PoolObject);
  const wfs = (await s.world.workflows()).map((w) => w.metadata.resourceVersion).sort();
  await waitFor(
    "workflow cache caught up",
    () =>
      Promise.resolve(
        JSON.stringify(
          s.wfInformer
            .list()
            .map((w) => w.metadata.resourceVersion)
            .sort(),
        ) === JSON.stringify(wfs),
      ),
    10_000,
    20,
  );
}

async function finish(world: World, wf: Workflow): Promise<void> {
  await client.patch(
    WORKFLOW,
    world.namespace,
    wf.metadata.name ?? "",
    { status: { state: "SUCCESS" } },
    "merge",
    {
      subresource: "status",
    },
  );
}

describe("maxConcurrent 2 in a pool of 6", () => {
  it("operator-owned: at most 2 Workflows running and 2 power requests outstanding, until all 6 are Ready", async () => {
    const s = await setup("throttle-op");
    await client.create(
      POOL,
      poolObject(s.world.namespace, "p", {
        replicas: 6,
        provisioning: { workflowOwner: "Operator", power: "Redfish", maxConcurrent: 2, wipeMode: "None" },
      }),
    );
    let peak = 0;
    for (let i = 0; i < 60; i++) {
      await pass(s, "p");
      const running = (await s.world.workflows()).filter((w) => !isDone(w));
      const outstanding = [...s.powered].filter((h) => running.some((w) => w.spec.hardwareRef === h));
      expect(running.length).toBeLessThanOrEqual(2);
      expect(outstanding.length).toBeLessThanOrEqual(2);
      peak = Math.max(peak, running.length);
      const pool = await s.world.pool("p");
      if (pool?.status?.readyReplicas === 6) break;
      // Provisioning finishes for one powered server at a time.
      const next = running.find((w) => s.powered.has(w.spec.hardwareRef ?? ""));
      if (next) await finish(s.world, next);
    }
    expect((await s.world.pool("p"))?.status?.readyReplicas).toBe(6);
    expect(peak).toBe(2); // the limit is used, not just respected
    expect(s.powered.size).toBe(6);
  });

  it("machine-controller-owned: at most 2 MachineDeployments provisioning and 2 power requests outstanding", async () => {
    const s = await setup("throttle-mc");
    await client.create(
      POOL,
      poolObject(s.world.namespace, "p", {
        replicas: 6,
        provisioning: {
          workflowOwner: "MachineController",
          power: "TinkerbellBMC",
          maxConcurrent: 2,
          wipeMode: "None",
        },
      }),
    );
    let peak = 0;
    for (let i = 0; i < 80; i++) {
      await pass(s, "p");
      const mds = await s.world.machineDeployments();
      const wfs = await s.world.workflows();
      const hwOf = (md: MachineDeployment): string => md.metadata.labels?.[LABEL.hardware] ?? "";
      const provisioning = mds.filter((md) => !wfs.some((w) => w.spec.hardwareRef === hwOf(md) && isDone(w)));
      const outstanding = [...s.powered].filter((h) => provisioning.some((md) => hwOf(md) === h));
      expect(provisioning.length).toBeLessThanOrEqual(2);
      expect(outstanding.length).toBeLessThanOrEqual(2);
      peak = Math.max(peak, provisioning.length);
      if ((await s.world.pool("p"))?.status?.readyReplicas === 6) break;
      // MACHINE-CONTROLLER STAND-IN (the real one runs in test/stack): a Workflow per new MachineDeployment,
      // named and labelled as its tinkerbell driver does; one powered server finishes per pass.
      for (const md of provisioning) {
        const h = hwOf(md);
        if (wfs.some((w) => w.spec.hardwareRef === h)) continue;
        await client.create(WORKFLOW, {
          metadata: {
            name: `${h}-provision`,
            namespace: s.world.namespace,
            labels: { [LABEL.mcHardwareRef]: h },
          },
          spec: { templateRef: "provision", hardwareRef: h, hardwareMap: { device_1: "52:54:00:aa:00:01" } },
        });
      }
      const next = wfs.find((w) => !isDone(w) && s.powered.has(w.spec.hardwareRef ?? ""));
      if (next) await finish(s.world, next);
    }
    expect((await s.world.pool("p"))?.status?.readyReplicas).toBe(6);
    expect(peak).toBe(2);
    expect(s.powered.size).toBe(6);
    expect(await s.world.machineDeployments()).toHaveLength(6);
  });
});
