/**
 * End to end in the DEFAULT configuration (workflowOwner MachineController, power TinkerbellBMC), on the
 * real Tinkerbell stack (test/harness/provisioning-lab.ts) with machine-controller v1.61's own
 * MachineDeployment and MachineSet controllers and baremetal/tinkerbell provider, driven by the STAND-IN
 * Machine loop (test/harness/machine-controller.ts), and kube-controller-manager's garbage collector.
 * FIXTURES stand for operating-system-manager's bootstrap Secret and the kubelet's Node. The real
 * metalpool-discovery listens beside smee, and a real Prometheus scrapes it and the operator for the whole
 * scenario; at the end every dashboard panel this scenario must show is asked for
 * (test/harness/dashboards.ts).
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MACHINE } from "../../lib/api/machine-controller.ts";
import { BMC_JOB, HARDWARE, type BmcJob, type Hardware } from "../../lib/api/tinkerbell.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { OsmFixture, joinNode } from "../harness/cluster-fixtures.ts";
import { checkScenario } from "../harness/dashboards.ts";
import { kubeconfigPath, testKubeConfig } from "../harness/kube.ts";
import {
  startGarbageCollector,
  startMachineController,
  type LoggedProcess,
} from "../harness/machine-controller.ts";
import type { OperatorProcess } from "../harness/operator.ts";
import { waitFor } from "../harness/ports.ts";
import { labUnavailable, type ProvisioningLab } from "../harness/provisioning-lab.ts";
import { startStackScenario, type StackScenario } from "../harness/stack-scenario.ts";
import { condition, poolObject, type World } from "../operator/fixtures.ts";

const unavailable = labUnavailable();
if (unavailable) console.warn(`end-to-end tests on the real Tinkerbell stack skipped: ${unavailable}`);

describe.skipIf(unavailable)("a pool in the default configuration, with machine-controller", () => {
  const kc = testKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  let scenario: StackScenario;
  let ns = "";
  let world: World;
  let lab: ProvisioningLab;
  let operator: OperatorProcess;
  let mc: LoggedProcess;
  let gc: LoggedProcess;
  let osm: OsmFixture;
  let states: Map<string, string[]>;

  beforeAll(async () => {
    scenario = await startStackScenario({ namespacePrefix: "e2e-mc", identity: "e2e-mc" });
    ({ ns, world, lab, operator, states } = scenario);
    osm = new OsmFixture(kc, core, ns);
    await osm.start();
    gc = startGarbageCollector({ kubeconfigPath: kubeconfigPath() });
    mc = startMachineController({ kubeconfigPath: kubeconfigPath(), namespace: ns });
  }, 600_000);

  afterAll(async () => {
    osm?.stop();
    await mc?.stop();
    await gc?.stop();
    await scenario?.stop();
  });

  /** The failing test's evidence: every program's log tail, the Workflow states, the lab's servers. */
  function dumpState(): void {
    console.error(`--- operator\n${operator.logTail(60)}\n--- machine-controller\n${mc.logTail(60)}`);
    console.error(`--- kube-controller-manager\n${gc.logTail(20)}\n--- tinkerbell\n${lab.tink.logTail(40)}`);
    const servers = lab.servers.map(({ name, power, boots, osieFetches, ran }) => ({
      name,
      power,
      boots,
      osieFetches,
      ran,
    }));
    console.error(`--- states ${JSON.stringify([...states])} lab ${JSON.stringify(servers)}`);
    console.error(`--- errors ${JSON.stringify([...lab.errors, ...osm.errors])}`);
  }

  /** machine-controller made and staged, metalpool powered and then took PXE away, the Node is the Machine's. */
  async function expectProvisionedByMachineController(wfName: string): Promise<void> {
    const server = lab.server("srv1");
    const [wf] = await world.workflows();
    expect(wf?.spec.templateRef).toBe("provision-worker-node");
    expect(wf?.metadata.labels?.["app.kubernetes.io/hardware-reference"]).toBe("srv1");
    expect(wf?.spec.bootOptions?.bootMode).toBeUndefined(); // machine-controller asks for no power
    expect(states.get(wfName)).toEqual(["PENDING", "RUNNING", "POST", "SUCCESS"]);
    // metalpool powered it into PXE through a bmc Job that rufio ran.
    const jobs = (await world.client.list<BmcJob>(BMC_JOB, ns)).items;
    expect(jobs.map((j) => j.metadata.name)).toEqual([`metalpool-${wfName}-netboot`]);
    expect(jobs[0]?.status?.conditions?.find((c) => c.type === "Completed")?.status).toBe("True");
    expect(server.osieFetches).toBeGreaterThanOrEqual(1);
    expect(server.ran.filter((a) => a.workflow === `${ns}/${wfName}`).length).toBeGreaterThan(0);
    const hw = await world.client.get<Hardware>(HARDWARE, ns, "srv1");
    expect(hw.spec.metadata?.state).toBe("Staged"); // machine-controller's claim
    expect(hw.spec.interfaces?.[0]?.netboot?.allowPXE).toBe(false); // metalpool's, after SUCCESS
    const [machine] = (
      await world.client.list<{ metadata: { name?: string }; status?: { nodeRef?: { name: string } } }>(
        MACHINE,
        ns,
      )
    ).items;
    expect(machine?.status?.nodeRef?.name).toBe("srv1");
  }

  it("provisions a server through machine-controller's Workflow, and releases it once its Machine is gone", async (ctx) => {
    ctx.onTestFailed(dumpState);
    // The defaults: machine-controller owns the Workflows, tinkerbell's rufio powers the server.
    await world.client.create(POOL, poolObject(ns, "p", { replicas: 1, provisioning: undefined }));
    const pool = await world.pool("p");
    expect(pool?.spec.provisioning).toMatchObject({
      workflowOwner: "MachineController",
      power: "TinkerbellBMC",
    });

    // machine-controller's provider made the Workflow; it ran; the kubelet joins once it has.
    let wfName = "";
    await waitFor(
      "machine-controller's Workflow to succeed",
      async () => {
        const [wf] = await world.workflows();
        wfName = wf?.metadata.name ?? "";
        return wf?.status?.state === "SUCCESS";
      },
      300_000,
      500,
    );
    const server = lab.server("srv1");
    await joinNode(core, "srv1", server.ip, "1.33.4");
    const ready = await world.until(
      "p",
      "Ready once the Node is",
      (p) => p.status?.readyReplicas === 1 && condition(p, "Ready")?.status === "True",
      120_000,
    );
    expect(ready.status?.members?.[0]).toMatchObject({ hardware: "srv1", phase: "Ready", attempts: 1 });

    await expectProvisionedByMachineController(wfName);

    await world.setReplicas("p", 0);
    await world.until("p", "released", (p) => (p.status?.members?.length ?? -1) === 0, 300_000);
    await waitFor("the server powered off", () => Promise.resolve(server.power === "Off"), 60_000);
    expect(await world.machineDeployments()).toHaveLength(0);
    expect((await world.client.list(MACHINE, ns)).items).toHaveLength(0);
    expect((await core.listNode()).items.map((n) => n.metadata?.name)).not.toContain("srv1");
    const wiped = server.ran.filter((a) => a.workflow !== `${ns}/${wfName}`);
    expect(wiped.map((a) => a.action)).toEqual(["wipe-metadata", "power-off"]);
    const released = await world.client.get<Hardware>(HARDWARE, ns, "srv1");
    expect(released.metadata.labels?.["metalpool.io/pool-uid"]).toBeUndefined();
    expect(released.spec.metadata?.state).toBeUndefined(); // Decommissioned cleared: it can be provisioned again
    expect(await world.workflows()).toHaveLength(0);
    expect([...lab.errors, ...osm.errors]).toEqual([]);
  }, 900_000);

  it("shows every dashboard panel this scenario should produce", async () => {
    const { missing, report } = await checkScenario(
      scenario.prom,
      "machine-controller",
      ns,
      scenario.scrapedFrom,
    );
    expect(missing, report).toEqual([]);
  });
});
