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
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BMC_JOB,
  BMC_MACHINE,
  HARDWARE,
  WORKFLOW,
  type BmcJob,
  type Hardware,
  type Workflow,
} from "../../lib/api/tinkerbell.ts";
import { LABEL } from "../../lib/api/labels.ts";
import { Informer } from "../../lib/kube/informer.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { IMAGES } from "../../operator/provision/template.ts";
import { checkScenario } from "../harness/dashboards.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "../harness/kube.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { waitFor } from "../harness/ports.ts";
import { startPrometheus, type Prometheus } from "../harness/prometheus.ts";
import { labUnavailable, startProvisioningLab, type ProvisioningLab } from "../harness/provisioning-lab.ts";
import { startVm } from "../harness/qemu.ts";
import { World, condition, poolObject } from "../operator/fixtures.ts";
import { inject } from "vitest";

const unavailable = labUnavailable();
if (unavailable) console.warn(`end-to-end tests on the real Tinkerbell stack skipped: ${unavailable}`);

describe.skipIf(unavailable)("an operator-owned pool on the real Tinkerbell stack", () => {
  const kc = testKubeConfig();
  let ns = "";
  let world: World;
  let lab: ProvisioningLab;
  let operator: OperatorProcess;
  let workflows: Informer<Workflow>;
  let prom: Prometheus;
  /** When Prometheus first had every target (Unix seconds): the dashboards' time range starts here. */
  let scrapedFrom = 0;
  let unknownServer: ReturnType<typeof startVm> | undefined;
  /** Every state each Workflow showed, in order, as the watch delivered them. */
  const states = new Map<string, string[]>();

  beforeAll(async () => {
    ns = await createNamespace(kc.makeApiClient(CoreV1Api), "e2e-op");
    world = new World(kc, ns);
    lab = await startProvisioningLab({
      kubeconfigPath: kubeconfigPath(),
      apiServer: inject("apiServer"),
      namespace: ns,
      servers: ["srv1"],
      // Unknown servers get pending Hardware with an address of the lab's network.
      discovery: {
        addresses: { range: "10.213.0.100-10.213.0.150", netmask: "255.255.255.0", gateway: "10.213.0.1" },
      },
    });
    const { secret, bmcMachine, hardware } = lab.objects("srv1", ns);
    await kc.makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: ns, body: secret });
    await world.client.create(BMC_MACHINE, bmcMachine);
    await world.client.create(HARDWARE, hardware);
    workflows = new Informer<Workflow>(kc, WORKFLOW, { namespace: ns });
    const record = (wf: Workflow): void => {
      const name = wf.metadata.name ?? "";
      const seen = states.get(name) ?? [];
      const state = wf.status?.state;
      if (state && seen.at(-1) !== state) seen.push(state);
      states.set(name, seen);
    };
    workflows.on("add", record).on("update", record);
    await workflows.start();
    operator = startOperator({
      kubeconfig: kubeconfigPath(),
      namespace: ns,
      identity: "e2e",
      // The lab's BMC speaks plain http (as rufio reaches it); the operator reads its inventory too.
      // The default Lease (not the harness's 3 s): QEMU under TCG keeps a core busy, and a replica that
      // misses a renewal exits by design.
      extraArgs: ["--allow-insecure-bmc", "true", "--lease-duration", "15s"],
    });
    // Scraping from before the pool exists, so every counter's rise is seen.
    const targets = [await operator.opsUrl(), lab.discovery?.metricsUrl ?? ""].map((u) => new URL(u).host);
    prom = await startPrometheus(targets);
    scrapedFrom = Math.floor(Date.now() / 1000);
  }, 600_000);

  afterAll(async () => {
    workflows?.stop();
    await unknownServer?.stopAndClean();
    await prom?.stop();
    await operator?.stop();
    await lab?.stop();
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
    const { missing, report } = await checkScenario(prom, "operator-owned", ns, scrapedFrom);
    expect(missing, report).toEqual([]);
  });
});
