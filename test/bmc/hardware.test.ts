/**
 * BMCs as Tinkerbell describes them (bmc.tinkerbell.org Machine + credential Secret), on the real API server,
 * talking to a real Redfish emulator: inventory written into Hardware by the operator, rufio Jobs the real
 * CRD accepts, and a claimed server powered on for its one-time PXE boot through the pool's chosen path.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BMC_JOB, BMC_MACHINE, HARDWARE, type BmcJob, type Hardware } from "../../lib/api/tinkerbell.ts";
import { resolveBmc } from "../../lib/bmc/target.ts";
import type { SecretPolicy } from "../../lib/kube/secret-policy.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { bmcJobPower } from "../../operator/provision/bmc-power.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "../harness/kube.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { waitFor } from "../harness/ports.ts";
import { startRedfishEmulator, type RedfishEmulator } from "../harness/redfish.ts";
import { WorkflowSimulator } from "../harness/workflow-simulator.ts";
import { World, hardware, poolObject } from "../operator/fixtures.ts";

/** The Redfish emulator here speaks plain http; production refuses that unless told otherwise. */
const PLAIN_HTTP_LAB: SecretPolicy = { extraNamespaces: [], allowInsecureBmc: true };

const kc = testKubeConfig();
const client = new KubeClient(kc);
const core = kc.makeApiClient(CoreV1Api);
const SYSTEMS = { a: "7a5e1b0c-0000-4000-8000-00000000000a", b: "7a5e1b0c-0000-4000-8000-00000000000b" };
let bmc: RedfishEmulator;
let ns: string;
let operator: OperatorProcess | undefined;
let sim: WorkflowSimulator | undefined;

/** A Hardware with its bmc Machine and Secret, the way Tinkerbell users write them. */
async function serverWithBmc(name: string, system: string, password = bmc.password): Promise<Hardware> {
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: `${name}-bmc` }, stringData: { username: bmc.username, password } },
  });
  const url = new URL(bmc.url);
  await client.create(BMC_MACHINE, {
    metadata: { name: `${name}-bmc`, namespace: ns },
    spec: {
      connection: {
        host: `http://${url.hostname}`,
        port: 623,
        authSecretRef: { name: `${name}-bmc`, namespace: ns },
        insecureTLS: false,
        providerOptions: { redfish: { port: Number(url.port), systemName: system } },
      },
    },
  });
  const hw = hardware(ns, name, { bmc: true });
  hw.spec.disks = [];
  return client.create(HARDWARE, hw);
}

beforeAll(async () => {
  bmc = await startRedfishEmulator([
    {
      uuid: SYSTEMS.a,
      name: "a",
      nics: [{ mac: "52:54:00:0a:00:01" }],
      drives: [
        { id: "d1", sizeBytes: 960_197_124_096, mediaType: "SSD" },
        { id: "d2", sizeBytes: 480_103_981_056, mediaType: "SSD" },
      ],
    },
    { uuid: SYSTEMS.b, name: "b", nics: [{ mac: "52:54:00:0b:00:01" }] },
  ]);
  ns = await createNamespace(core, "bmc");
});

afterAll(async () => {
  sim?.stop();
  await operator?.stop();
  await bmc?.stop();
});

describe("BMC resolution", () => {
  it("reads endpoint, system and credentials from the bmc Machine and its Secret", async () => {
    const hw = await serverWithBmc("resolve", SYSTEMS.b);
    const target = await resolveBmc(client, hw, { policy: PLAIN_HTTP_LAB });
    expect(target.endpoint).toMatchObject({
      url: `http://127.0.0.1:${new URL(bmc.url).port}`,
      username: bmc.username,
      password: bmc.password,
    });
    expect(target.systemId).toBe(SYSTEMS.b);
    expect(target.describe).not.toContain(bmc.password);
  });

  it("says exactly what is missing", async () => {
    const orphan = await client.create(HARDWARE, {
      ...hardware(ns, "orphan"),
      spec: {
        ...hardware(ns, "orphan").spec,
        bmcRef: { apiGroup: "bmc.tinkerbell.org", kind: "Machine", name: "nowhere" },
      },
    });
    await expect(resolveBmc(client, orphan, { policy: PLAIN_HTTP_LAB })).rejects.toThrow(
      `Hardware ${ns}/orphan: bmc Machine ${ns}/nowhere (spec.bmcRef) not found`,
    );
    const plain = await client.create(HARDWARE, hardware(ns, "plain"));
    await expect(resolveBmc(client, plain, { policy: PLAIN_HTTP_LAB })).rejects.toThrow(
      `Hardware ${ns}/plain has no BMC: set spec.bmcRef or the metalpool.io/bmc-endpoint annotation`,
    );
  });
});

describe("borrowed Secrets and plain http", () => {
  it("refuses a plain-http BMC unless the operator allows it, before reading any Secret", async () => {
    const hw = await serverWithBmc("plainhttp", SYSTEMS.b);
    await expect(resolveBmc(client, hw)).rejects.toThrow(
      `Hardware ${ns}/plainhttp: BMC endpoint 127.0.0.1:${new URL(bmc.url).port} is plain http, which would send its credentials unencrypted; use https, or start the operator with --allow-insecure-bmc`,
    );
  });

  it("keeps a bmc Machine's Secret reference in its own namespace unless that namespace is allowed", async () => {
    const other = await createNamespace(core, "vault");
    await core.createNamespacedSecret({
      namespace: other,
      body: { metadata: { name: "admin" }, stringData: { username: "root", password: "crown-jewels" } },
    });
    const url = new URL(bmc.url);
    await client.create(BMC_MACHINE, {
      metadata: { name: "borrow-bmc", namespace: ns },
      spec: {
        connection: {
          host: `http://${url.hostname}`,
          port: Number(url.port),
          authSecretRef: { name: "admin", namespace: other },
          insecureTLS: false,
        },
      },
    });
    const hw = await client.create(HARDWARE, {
      ...hardware(ns, "borrow"),
      spec: {
        ...hardware(ns, "borrow").spec,
        bmcRef: { apiGroup: "bmc.tinkerbell.org", kind: "Machine", name: "borrow-bmc" },
      },
    });
    const refused = resolveBmc(client, hw, { policy: PLAIN_HTTP_LAB });
    await expect(refused).rejects.toThrow(
      `bmc Machine ${ns}/borrow-bmc refers to a Secret in namespace ${other}; references may only point into ${ns} (the operator's --secret-namespaces lists more)`,
    );
    await expect(refused).rejects.not.toThrow(/crown-jewels/);
    const allowed = await resolveBmc(client, hw, { policy: { ...PLAIN_HTTP_LAB, extraNamespaces: [other] } });
    expect(allowed.endpoint.username).toBe("root");
  });
});

describe("rufio Jobs", () => {
  it("are created once per operation, in the shape the real bmc Job CRD accepts", async () => {
    const hw = await client.create(HARDWARE, hardware(ns, "jobbed", { bmc: true }));
    const power = bmcJobPower(client);
    await power.netbootOnce(hw, "wf-1");
    await power.netbootOnce(hw, "wf-1");
    const jobs = (await client.list<BmcJob>(BMC_JOB, ns)).items;
    expect(jobs.map((j) => j.metadata.name)).toEqual(["metalpool-wf-1-netboot"]);
    expect(jobs[0]?.spec).toEqual({
      machineRef: { name: "jobbed-bmc", namespace: ns },
      tasks: [
        { powerAction: "off" },
        { bootDevice: { device: "pxe", efiBoot: true } },
        { powerAction: "on" },
      ],
    });
  });
});

describe("the operator with BMCs", () => {
  beforeAll(() => {
    sim = new WorkflowSimulator(kc, ns, () => "hang");
    sim.start();
    operator = startOperator({
      kubeconfig: kubeconfigPath(),
      namespace: ns,
      identity: "bmc",
      extraArgs: ["--allow-insecure-bmc", "true"],
    });
  });

  it("fills inventory labels, annotation and disks of a free server from its BMC", async () => {
    await serverWithBmc("inv", SYSTEMS.a);
    let hw: Hardware | undefined;
    await waitFor(
      "inventory",
      async () => {
        hw = await client.get<Hardware>(HARDWARE, ns, "inv");
        return Boolean(hw.metadata.annotations?.["metalpool.io/inventory"]);
      },
      30_000,
    );
    expect(hw?.metadata.labels).toMatchObject({
      "metalpool.io/disks": "2",
      "metalpool.io/disk-min-gib": "447",
    });
    expect(hw?.spec.disks).toEqual([{ device: "/dev/sda" }, { device: "/dev/sdb" }]);
    const record = JSON.parse(hw?.metadata.annotations?.["metalpool.io/inventory"] ?? "{}") as {
      systemId: string;
      nics: { mac: string }[];
    };
    expect(record.systemId).toBe(SYSTEMS.a);
    expect(record.nics).toEqual([{ mac: "52:54:00:0a:00:01" }]);
    expect(JSON.stringify(hw)).not.toContain(bmc.password);
  });

  it("reports a BMC that refuses the credentials as a Warning Event, without the password", async () => {
    await serverWithBmc("badcreds", SYSTEMS.b, "not-the-password-42");
    await waitFor(
      "event",
      async () =>
        (await core.listNamespacedEvent({ namespace: ns })).items.some(
          (e) => e.reason === "BMCCredentialsRefused",
        ),
      30_000,
    );
    const event = (await core.listNamespacedEvent({ namespace: ns })).items.find(
      (e) => e.reason === "BMCCredentialsRefused",
    );
    expect(event?.involvedObject.name).toBe("badcreds");
    expect(event?.message).toMatch(/credentials refused \(HTTP 401\)$/);
    expect(event?.message).not.toContain("not-the-password-42");
    // The operator logged the failure, and neither password appears anywhere in its log.
    const log = readFileSync(operator?.logFile ?? "", "utf8");
    expect(log).toContain("reading inventory failed");
    expect(log).toContain("credentials refused (HTTP 401)");
    expect(log).not.toContain("not-the-password-42");
    expect(log).not.toContain(bmc.password);
  });

  it("powers a claimed server on for a one-time PXE boot through Redfish", async () => {
    const notificationsBefore = bmc.notifications.length;
    const world = new World(kc, ns);
    await world.client.create(
      POOL,
      poolObject(ns, "redfish", {
        replicas: 1,
        hardwareSelector: { matchLabels: { "metalpool.io/disks": "2" } },
        provisioning: { workflowOwner: "Operator", power: "Redfish" },
      }),
    );
    await world.until("redfish", "provisioning", (p) => p.status?.members?.[0]?.phase === "Provisioning");
    await waitFor(
      "the BMC told to PXE-boot and power on",
      () => {
        const seen = bmc.notifications.slice(notificationsBefore).filter((n) => n.uuid === SYSTEMS.a);
        return Promise.resolve(
          seen.some((n) => n.boot_device === "Pxe") &&
            seen.some((n) => n.pending_power?.power_state === "On"),
        );
      },
      30_000,
    );
    const others = bmc.notifications.slice(notificationsBefore).filter((n) => n.uuid !== SYSTEMS.a);
    expect(others).toEqual([]); // no other server was touched
  });
});
