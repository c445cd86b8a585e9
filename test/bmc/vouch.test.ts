/**
 * Strong approval end to end: the real operator program (--approve-vouched true) on the real API server asks
 * real Redfish BMCs (sushy-tools' emulator) described by bmc.tinkerbell.org Machines whether they manage a
 * server discovery found. Approved when a BMC lists the server's NIC or reports its SMBIOS UUID (here in the
 * other byte order); left pending when no BMC knows it, or when the evidence conflicts.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BMC_MACHINE, HARDWARE, type Hardware } from "../../lib/api/tinkerbell.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { swapUuidByteOrder } from "../../lib/redfish/uuid.ts";
import { discoveredHardware } from "../../discovery/hardware.ts";
import { loadPolicy } from "../../discovery/policy.ts";
import type { ClientFacts } from "../../discovery/pxe.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "../harness/kube.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { waitFor } from "../harness/ports.ts";
import { startRedfishEmulator, type RedfishEmulator } from "../harness/redfish.ts";

const kc = testKubeConfig();
const client = new KubeClient(kc);
const core = kc.makeApiClient(CoreV1Api);
const SYSTEMS = {
  byMac: "3f1c0e52-0000-4000-8000-0000000000a1",
  byUuid: "3f1c0e52-0000-4000-8000-0000000000b2",
  bystander: "3f1c0e52-0000-4000-8000-0000000000c3",
};
let bmc: RedfishEmulator;
let ns: string;
let operator: OperatorProcess | undefined;

/** A bmc Machine and its credential Secret for one of the emulator's systems, as Tinkerbell users write them. */
async function knownBmc(name: string, system: string): Promise<void> {
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name }, stringData: { username: bmc.username, password: bmc.password } },
  });
  const url = new URL(bmc.url);
  await client.create(BMC_MACHINE, {
    metadata: { name, namespace: ns },
    spec: {
      connection: {
        host: `http://${url.hostname}`,
        port: 623,
        authSecretRef: { name, namespace: ns },
        insecureTLS: false,
        providerOptions: { redfish: { port: Number(url.port), systemName: system } },
      },
    },
  });
}

/** The Hardware discovery creates for a PXE client nobody approved, from discovery's own code. */
function discovered(mac: string, uuid?: string): Hardware {
  const facts: ClientFacts = {
    mac,
    xid: 1,
    messageType: "DISCOVER",
    hops: 0,
    archCode: 7,
    arch: "x86_64",
    uefi: true,
    vendorClass: "PXEClient:Arch:00007:UNDI:003016",
    userClasses: [],
    ...(uuid ? { uuid } : {}),
  };
  const policy = loadPolicy(undefined, {
    namespace: ns,
    addresses: { range: "10.77.0.100-10.77.0.199", netmask: "255.255.255.0" },
  });
  return discoveredHardware(facts, policy, "10.77.0.100", false, new Date());
}

async function approvedHardware(name: string): Promise<Hardware> {
  let hw: Hardware | undefined;
  await waitFor(
    `${name} approved`,
    async () => {
      hw = await client.get<Hardware>(HARDWARE, ns, name);
      return hw.metadata.labels?.["metalpool.io/approved"] === "true";
    },
    30_000,
  );
  return hw as Hardware;
}

beforeAll(async () => {
  bmc = await startRedfishEmulator([
    // The BMC lists the NIC in upper case; discovery records MACs in lower case.
    { uuid: SYSTEMS.byMac, name: "bymac", nics: [{ mac: "52:54:00:1A:00:01" }] },
    // A BMC that lists no NICs: only the UUID can tell.
    { uuid: SYSTEMS.byUuid, name: "byuuid" },
    { uuid: SYSTEMS.bystander, name: "bystander", nics: [{ mac: "52:54:00:3c:00:01" }] },
  ]);
  ns = await createNamespace(core, "vouch");
  await knownBmc("bymac-bmc", SYSTEMS.byMac);
  await knownBmc("byuuid-bmc", SYSTEMS.byUuid);
  await knownBmc("bystander-bmc", SYSTEMS.bystander);
  operator = startOperator({
    kubeconfig: kubeconfigPath(),
    namespace: ns,
    identity: "vouch",
    extraArgs: ["--allow-insecure-bmc", "true", "--approve-vouched", "true"],
  });
});

afterAll(async () => {
  await operator?.stop();
  await bmc?.stop();
});

describe("approval vouched for by a known BMC", () => {
  it("approves a discovered server whose NIC a known BMC lists, and binds it to that BMC", async () => {
    const created = await client.create(HARDWARE, discovered("52:54:00:1a:00:01"));
    const hw = await approvedHardware(created.metadata.name ?? "");
    expect(hw.metadata.labels).toMatchObject({
      "metalpool.io/approved": "true",
      "metalpool.io/approval": "vouched",
    });
    expect(hw.metadata.annotations?.["metalpool.io/vouched-by"]).toBe("bymac-bmc");
    expect(hw.spec.bmcRef).toEqual({ apiGroup: "bmc.tinkerbell.org", kind: "Machine", name: "bymac-bmc" });
    await waitFor(
      "the Vouched Event",
      async () =>
        (await core.listNamespacedEvent({ namespace: ns })).items.some(
          (e) =>
            e.reason === "Vouched" &&
            e.involvedObject.name === hw.metadata.name &&
            e.message === "approved: bmc Machine bymac-bmc reports its NIC 52:54:00:1a:00:01",
        ),
      30_000,
    );
    expect(readFileSync(operator?.logFile ?? "", "utf8")).not.toContain(bmc.password);
  });

  it("approves a discovered server whose UUID a known BMC reports in the other byte order", async () => {
    const theirOrder = swapUuidByteOrder(SYSTEMS.byUuid) ?? "";
    expect(theirOrder).not.toBe(SYSTEMS.byUuid);
    const created = await client.create(HARDWARE, discovered("52:54:00:2b:00:01", theirOrder));
    const hw = await approvedHardware(created.metadata.name ?? "");
    expect(hw.metadata.labels?.["metalpool.io/approval"]).toBe("vouched");
    expect(hw.metadata.annotations?.["metalpool.io/vouched-by"]).toBe("byuuid-bmc");
    expect(hw.spec.bmcRef?.name).toBe("byuuid-bmc");
  });

  it("leaves a discovered server no known BMC reports pending", async () => {
    const created = await client.create(HARDWARE, discovered("52:54:00:9f:00:01", randomUUID()));
    const name = created.metadata.name ?? "";
    // The operator looked at it with at least one BMC's report in hand (the bystander's) and found nothing.
    await waitFor(
      "the operator to look for BMCs vouching for it",
      () =>
        Promise.resolve(
          readFileSync(operator?.logFile ?? "", "utf8")
            .split("\n")
            .filter((l) => l.includes('"msg":"no known BMC vouches for this server"'))
            .map((l) => JSON.parse(l) as { hardware: string; bmcs: number })
            .some((l) => l.hardware === `${ns}/${name}` && l.bmcs >= 1),
        ),
      30_000,
    );
    const hw = await client.get<Hardware>(HARDWARE, ns, name);
    expect(hw.metadata.labels?.["metalpool.io/approval"]).toBe("pending");
    expect(hw.metadata.labels?.["metalpool.io/approved"]).toBeUndefined();
    expect(hw.metadata.annotations?.["metalpool.io/vouched-by"]).toBeUndefined();
    expect(hw.spec.bmcRef).toBeUndefined();
  });

  it("leaves pending, with a Warning, a client that sends a known server's UUID with a MAC that BMC does not list", async () => {
    // Every PXE request broadcasts the UUID: a host could send a real server's with its own MAC.
    const created = await client.create(HARDWARE, discovered("52:54:00:66:00:01", SYSTEMS.bystander));
    const name = created.metadata.name ?? "";
    await waitFor(
      "the NotVouched Event",
      async () =>
        (await core.listNamespacedEvent({ namespace: ns })).items.some(
          (e) =>
            e.reason === "NotVouched" &&
            e.type === "Warning" &&
            e.involvedObject.name === name &&
            e.message?.includes("the client's MAC 52:54:00:66:00:01 is none of its NICs (52:54:00:3c:00:01)"),
        ),
      30_000,
    );
    const hw = await client.get<Hardware>(HARDWARE, ns, name);
    expect(hw.metadata.labels?.["metalpool.io/approval"]).toBe("pending");
    expect(hw.metadata.labels?.["metalpool.io/approved"]).toBeUndefined();
  });
});
