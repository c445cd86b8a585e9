/**
 * End to end on the real Tinkerbell stack, with metalpool owning the Workflows: the real metalpool-operator
 * program, real tink-controller, rufio, smee and tink-server (test/harness/tinkerbell.ts), sushy-tools'
 * Redfish as the server's BMC, and a QEMU VM as the server, which PXE-boots from smee when its BMC powers it
 * on. Only the in-OS agent is simulated (test/harness/agent-simulator.ts): nothing here runs its containers.
 * The real metalpool-discovery listens beside smee, and a real Prometheus scrapes it and the operator for
 * the whole scenario; at the end an unknown server PXE-boots, and every dashboard panel this scenario must
 * show is asked for (test/harness/dashboards.ts).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BMC_JOB, HARDWARE, type BmcJob, type Hardware } from "../../lib/api/tinkerbell.ts";
import { LABEL } from "../../lib/api/labels.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { IMAGES } from "../../operator/provision/template.ts";
import { checkScenario } from "../harness/dashboards.ts";
import type { OperatorProcess } from "../harness/operator.ts";
import { waitFor } from "../harness/ports.ts";
import type { Prometheus } from "../harness/prometheus.ts";
import { labUnavailable, type ProvisioningLab } from "../harness/provisioning-lab.ts";
import { startVm } from "../harness/qemu.ts";
import { startStackScenario, type StackScenario } from "../harness/stack-scenario.ts";
import { condition, poolObject, type World } from "../operator/fixtures.ts";

const unavailable = labUnavailable();
if (unavailable) console.warn(`end-to-end tests on the real Tinkerbell stack skipped: ${unavailable}`);

describe.skipIf(unavailable)("an operator-owned pool on the real Tinkerbell stack", () => {
  let scenario: StackScenario;
  let ns = "";
  let world: World;
  let lab: ProvisioningLab;
  let operator: OperatorProcess;
  let prom: Prometheus;
  let states: Map<string, string[]>;
  let unknownServer: ReturnType<typeof startVm> | undefined;

  beforeAll(async () => {
    scenario = await startStackScenario({ namespacePrefix: "e2e-op", identity: "e2e" });
    ({ ns, world, lab, operator, prom, states } = scenario);
  }, 600_000);

  afterAll(async () => {
    await unknownServer?.stopAndClean();
    await scenario?.stop();
  });

  it("provisions a server through rufio, smee and tink-server, then wipes and releases it", async (ctx) => {
    ctx.onTestFailed(() => {
      console.error(`--- operator\n${operator.logTail(60)}\n--- tinkerbell\n${lab.tink.logTail(80)}`);
      console.error(`--- workflow states ${JSON.stringify([...states])}`);
      const servers = lab.servers.map(({ name, power, boots, osieFetches, ran }) => ({
        name,
        power,
        boots,
        osieFetches,
        ran,
      }));
      console.error(`--- lab ${JSON.stringify(servers)} errors ${JSON.stringify(lab.errors)}`);
    });
    await world.client.create(
      POOL,
      poolObject(ns, "p", {
        replicas: 1,
        provisioning: {
          workflowOwner: "Operator",
          power: "TinkerbellBMC",
          attemptTimeout: "10m",
          maxAttempts: 1,
          maxConcurrent: 1,
          wipeMode: "Metadata",
        },
      }),
    );
    const ready = await world.until(
      "p",
      "the server provisioned",
      (p) => p.status?.readyReplicas === 1 && condition(p, "Ready")?.status === "True",
      240_000,
    );
    expect(ready.status?.members?.[0]).toMatchObject({ hardware: "srv1", phase: "Ready", attempts: 1 });
    const server = lab.server("srv1");
    const [provision] = (await world.workflows()).filter(
      (w) => w.metadata.labels?.["metalpool.io/purpose"] === "provision",
    );
    const wfName = provision?.metadata.name ?? "";
    // tink-controller took the Workflow through every state, from its bootOptions to the agent's reports.
    expect(states.get(wfName)).toEqual(["PREPARING", "PENDING", "RUNNING", "POST", "SUCCESS"]);
    // tink-controller (not metalpool) made the bmc Job, and rufio ran it against the BMC.
    const job = await world.client.get<BmcJob>(BMC_JOB, ns, `netboot-${wfName}`);
    expect(job.status?.conditions?.find((c) => c.type === "Completed")?.status).toBe("True");
    expect(job.spec.machineRef.name).toBe("srv1-bmc");
    // The BMC's power-on booted the VM, which got smee's lease and script and asked for the OS kernel.
    expect(server.boots).toBeGreaterThanOrEqual(1);
    expect(server.osieFetches).toBeGreaterThanOrEqual(1);
    const hw = await world.client.get<Hardware>(HARDWARE, ns, "srv1");
    expect(hw.spec.interfaces?.[0]?.netboot?.allowPXE).toBe(false); // tink-controller's post step
    expect(lab.errors).toEqual([]);

    await world.setReplicas("p", 0);
    await world.until("p", "released", (p) => (p.status?.members?.length ?? -1) === 0, 240_000);
    await waitFor("the server powered off", () => Promise.resolve(server.power === "Off"), 60_000);
    // The agent ran the Template metalpool generated, image by pinned image, then the wipe Template.
    const provisioned = server.ran.filter((a) => a.workflow === `${ns}/${wfName}`);
    expect(provisioned.map((a) => a.action)).toEqual([
      "wipe-disk",
      "stream-image",
      "write-netplan",
      "write-cloud-init-datasource",
      "write-cloud-init-meta-data",
      "write-cloud-init-user-data",
      "reboot",
    ]);
    for (const a of server.ran) {
      expect(a.image).not.toMatch(/:latest$/);
      expect(Object.values(IMAGES)).toContain(a.image);
    }
    const wiped = server.ran.filter((a) => a.workflow !== `${ns}/${wfName}`);
    expect(wiped.map((a) => a.action)).toEqual(["wipe-metadata", "power-off"]);
    const released = await world.client.get<Hardware>(HARDWARE, ns, "srv1");
    expect(released.metadata.labels?.["metalpool.io/pool-uid"]).toBeUndefined();
    expect(await world.workflows()).toHaveLength(0);
    expect(lab.errors).toEqual([]);
  }, 600_000);

  it("an unknown server PXE-booting beside it becomes pending Hardware that nobody claims", async () => {
    // A server nobody typed PXE-boots on the provisioning network: smee stays silent, discovery makes
    // Hardware pending approval, and the operator counts it as awaiting approval (and claims nothing).
    unknownServer = startVm(lab.net, {
      firmware: "bios-ipxe",
      mac: "52:54:00:e2:e0:f0",
      smbiosUuid: randomUUID(),
    });
    await waitFor(
      "the unknown server's Hardware",
      async () => (await world.hardware()).some((h) => h.metadata.name === "discovered-525400e2e0f0"),
      90_000,
      500,
    );
    await waitFor(
      "the operator to count it awaiting approval",
      async () =>
        (await prom.query(`metalpool_hardware{namespace="${ns}", state="discovered-pending"} == 1`)).data
          ?.result.length === 1,
      30_000,
    );
    await unknownServer.stopAndClean();
    unknownServer = undefined;
    const found = await world.client.get<Hardware>(HARDWARE, ns, "discovered-525400e2e0f0");
    expect(found.metadata.labels).toMatchObject({ [LABEL.discovered]: "true", [LABEL.approval]: "pending" });
    expect(found.spec.interfaces?.[0]?.dhcp?.mac).toBe("52:54:00:e2:e0:f0");
    expect((await world.pool("p"))?.status?.members ?? []).toHaveLength(0);
  }, 120_000);

  it("shows every dashboard panel this scenario should produce", async () => {
    if (!prom) throw new Error("no Prometheus");
    const { missing, report } = await checkScenario(prom, "operator-owned", ns, scenario.scrapedFrom);
    expect(missing, report).toEqual([]);
  });
});
