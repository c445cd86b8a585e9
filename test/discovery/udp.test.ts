/**
 * The discovery program against the real API server, fed real UDP datagrams on loopback: creation, approval,
 * address allocation around existing Hardware, retries, known MACs, malformed and hostile input, exhaustion.
 * (The QEMU tests in pxe-firmware.test.ts prove the same with real PXE firmware.)
 */
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { HARDWARE, type Hardware } from "../../lib/api/tinkerbell.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { OVMF_UUID_OPTION, pxeDiscover } from "../fixtures/dhcp.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "../harness/kube.ts";
import { freePort, waitFor } from "../harness/ports.ts";
import { startProgram, type ProgramProcess } from "../harness/program.ts";
import { hardware } from "../operator/fixtures.ts";

const kc = testKubeConfig();
const client = new KubeClient(kc);
let ns: string;
let dir: string;
let discovery: ProgramProcess;
let port: number;
let metricsUrl: string;

async function send(...datagrams: Uint8Array[]): Promise<void> {
  const socket = createSocket("udp4");
  for (const d of datagrams)
    await new Promise<void>((resolve, reject) =>
      socket.send(d, port, "127.0.0.1", (err) => (err ? reject(err) : resolve())),
    );
  socket.close();
}

const discovered = async (): Promise<Hardware[]> =>
  (await client.list<Hardware>(HARDWARE, ns)).items.filter(
    (h) => h.metadata.labels?.["metalpool.io/discovered"] === "true",
  );

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(name + " ") || (l.startsWith(name + "{") && l.includes(name)));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

beforeAll(async () => {
  ns = await createNamespace(kc.makeApiClient(CoreV1Api), "disc");
  // A server typed by hand: its MAC is known, and its address must not be handed out again.
  const typed = hardware(ns, "typed");
  const iface = typed.spec.interfaces?.[0];
  if (iface?.dhcp) {
    iface.dhcp.mac = "52:54:00:00:00:99";
    iface.dhcp.ip = { address: "10.50.0.10", netmask: "255.255.255.0" };
  }
  await client.create(HARDWARE, typed);
  dir = mkdtempSync(join(tmpdir(), "metalpool-policy-"));
  writeFileSync(
    join(dir, "policy.yaml"),
    stringify({
      namespace: ns,
      autoApprove: [{ macPrefix: "52:54:00:aa" }],
      addresses: {
        range: "10.50.0.10-10.50.0.12",
        netmask: "255.255.255.0",
        gateway: "10.50.0.1",
        nameServers: ["10.50.0.1"],
      },
      limits: { dedupeWindow: "1m", creationsPerMinute: 100, maxPending: 10 },
    }),
  );
  port = await freePort();
  discovery = startProgram("discovery", [
    "--kubeconfig",
    kubeconfigPath(),
    "--namespace",
    ns,
    "--listen",
    `127.0.0.1:${port}`,
    "--metrics-addr",
    "127.0.0.1:0",
    "--policy",
    join(dir, "policy.yaml"),
  ]);
  metricsUrl = `http://127.0.0.1:${await discovery.logged<number>("listening", "metricsPort")}`;
});

afterAll(async () => {
  await discovery?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("discovery over UDP", () => {
  it("creates exactly one correct Hardware for an unknown PXE client, however often it retries", async () => {
    const uuid = OVMF_UUID_OPTION;
    await send(
      pxeDiscover("52:54:00:aa:00:01", { uuid }),
      pxeDiscover("52:54:00:aa:00:01", { uuid }),
      pxeDiscover("52:54:00:aa:00:01", { uuid }),
    );
    await waitFor("Hardware", async () => (await discovered()).length === 1, 20_000);
    const [hw] = await discovered();
    expect(hw?.metadata.name).toBe("discovered-525400aa0001");
    expect(hw?.metadata.labels).toEqual({
      "metalpool.io/discovered": "true",
      "metalpool.io/arch": "x86_64",
      "metalpool.io/uefi": "true",
      "metalpool.io/approved": "true",
    });
    expect(hw?.metadata.annotations?.["metalpool.io/uuid"]).toBe("a1b2c3d4-e5f6-4718-9a2b-3c4d5e6f7a8b");
    expect(hw?.spec.interfaces?.[0]).toEqual({
      dhcp: {
        mac: "52:54:00:aa:00:01",
        arch: "x86_64",
        uefi: true,
        hostname: "discovered-525400aa0001",
        iface_name: "eth0",
        ip: { address: "10.50.0.11", netmask: "255.255.255.0", gateway: "10.50.0.1", family: 4 }, // .10 is taken
        name_servers: ["10.50.0.1"],
        lease_time: 86400,
      },
      netboot: { allowPXE: false, allowWorkflow: false },
      disableDhcp: false, // defaulted by Tinkerbell's CRD
    });
    expect(hw?.spec.disks).toEqual([{ device: "/dev/sda" }]);
    // The retries found the new Hardware's MAC already known: one discovery, one creation.
    await waitFor(
      "all three parsed",
      async () => (await metric("metalpool_discovery_packets_parsed_total")) === 3,
      10_000,
    );
    expect(await metric("metalpool_discovery_unknown_clients_total")).toBe(1);
    expect(await metric('metalpool_discovery_hardware_created_total{approval="approved"}')).toBe(1);
  });

  it("creates nothing for a MAC that already has Hardware, nor for DHCP clients that are not PXE", async () => {
    await send(pxeDiscover("52:54:00:00:00:99"), pxeDiscover("52:54:00:bb:00:01", { vendor: "MSFT 5.0" }));
    await waitFor(
      "both packets parsed",
      async () => (await metric("metalpool_discovery_packets_parsed_total")) >= 5,
      10_000,
    );
    expect((await discovered()).map((h) => h.metadata.name)).toEqual(["discovered-525400aa0001"]);
  });

  it("counts malformed and hostile packets, keeps working, and marks unapproved clients pending", async () => {
    const valid = pxeDiscover("52:54:00:bb:00:02", { arch: 0 });
    const truncated = valid.subarray(0, 150);
    const badLength = Uint8Array.from(valid);
    badLength[241] = 250; // option 53 claims 250 bytes
    await send(
      truncated,
      badLength,
      Uint8Array.from({ length: 700 }, (_, i) => (i * 37) % 256),
      new Uint8Array(0),
    );
    await send(valid);
    await waitFor(
      "the valid client after the garbage",
      async () => (await discovered()).length === 2,
      20_000,
    );
    expect(await metric("metalpool_discovery_packets_malformed_total")).toBe(4);
    const pending = (await discovered()).find((h) => h.metadata.name === "discovered-525400bb0002");
    expect(pending?.metadata.labels?.["metalpool.io/approval"]).toBe("pending");
    expect(pending?.metadata.labels?.["metalpool.io/approved"]).toBeUndefined();
    expect(pending?.spec.interfaces?.[0]?.dhcp).toMatchObject({
      arch: "x86_64",
      uefi: false,
      ip: { address: "10.50.0.12" },
    });
    expect(discovery.exited()).toBe(false);
  });

  it("rejects, with a counted reason, a client once the address range is exhausted", async () => {
    await send(pxeDiscover("52:54:00:cc:00:01"));
    await waitFor(
      "the rejection",
      async () => (await metric('metalpool_discovery_rejections_total{reason="no-address"}')) === 1,
      10_000,
    );
    expect((await discovered()).length).toBe(2);
    expect(await metric('metalpool_discovery_hardware_created_total{approval="approved"}')).toBe(1);
    expect(await metric('metalpool_discovery_hardware_created_total{approval="pending"}')).toBe(1);
  });
});
