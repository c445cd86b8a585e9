/**
 * Discovery with real PXE firmware: QEMU machines (SeaBIOS + iPXE ROM, and OVMF UEFI) boot from the network
 * in a private network namespace; discovery listens there on port 67 and must create exactly one correct
 * Hardware per unknown machine — arch, UEFI flag, the SMBIOS UUID given to QEMU, an address from the range —
 * and none for a machine whose MAC already has Hardware.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { HARDWARE, type Hardware } from "../../lib/api/tinkerbell.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { createNamespace, testKubeConfig } from "../harness/kube.ts";
import { createTestNetwork, type TestNetwork } from "../harness/netns.ts";
import { waitFor } from "../harness/ports.ts";
import { startProgram, type ProgramProcess } from "../harness/program.ts";
import { startVm } from "../harness/qemu.ts";
import { hardware } from "../operator/fixtures.ts";

const isRoot = process.getuid?.() === 0;
const kc = testKubeConfig();
const client = new KubeClient(kc);

const machines = {
  bios: {
    firmware: "bios-ipxe" as const,
    mac: "52:54:00:12:34:56",
    smbiosUuid: "11223344-5566-7788-99aa-bbccddeeff00",
  },
  uefi: {
    firmware: "uefi-ovmf" as const,
    mac: "52:54:00:ab:cd:ef",
    smbiosUuid: "a1b2c3d4-e5f6-4718-9a2b-3c4d5e6f7a8b",
  },
  known: {
    firmware: "bios-ipxe" as const,
    mac: "52:54:00:99:88:77",
    smbiosUuid: "0f1e2d3c-4b5a-4697-8877-665544332211",
  },
};

describe.skipIf(!isRoot)(
  "discovery with real PXE firmware in QEMU (needs root for network namespaces)",
  () => {
    let ns: string;
    let net: TestNetwork | undefined;
    let dir: string;
    let discovery: ProgramProcess | undefined;
    const vms: ReturnType<typeof startVm>[] = [];

    beforeAll(async () => {
      ns = await createNamespace(kc.makeApiClient(CoreV1Api), "pxe");
      const typed = hardware(ns, "typed-by-hand");
      const iface = typed.spec.interfaces?.[0];
      if (iface?.dhcp) iface.dhcp.mac = machines.known.mac;
      await client.create(HARDWARE, typed);

      net = createTestNetwork();
      const api = new URL(inject("apiServer"));
      const relayPort = await net.relay({ host: api.hostname, port: Number(api.port) });
      dir = mkdtempSync(join(tmpdir(), "metalpool-pxe-"));
      const kubeconfig = join(dir, "kubeconfig");
      writeFileSync(
        kubeconfig,
        stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [
            {
              name: "c",
              cluster: {
                server: `https://${net.hostAddress}:${relayPort}`,
                "insecure-skip-tls-verify": true,
              },
            },
          ],
          users: [{ name: "u", user: { token: inject("apiToken") } }],
          contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
          "current-context": "c",
        }),
      );
      writeFileSync(
        join(dir, "policy.yaml"),
        stringify({
          namespace: ns,
          addresses: { range: "10.213.0.100-10.213.0.150", netmask: "255.255.255.0", gateway: "10.213.0.1" },
        }),
      );
      discovery = startProgram(
        "discovery",
        [
          "--kubeconfig",
          kubeconfig,
          "--namespace",
          ns,
          "--listen",
          "0.0.0.0:67",
          "--metrics-addr",
          "0.0.0.0:0",
          "--policy",
          join(dir, "policy.yaml"),
          "--log-level",
          "debug",
        ],
        { wrapper: ["ip", "netns", "exec", net.name] },
      );
      await discovery.logged<number>("listening", "port");
      for (const m of Object.values(machines)) vms.push(startVm(net, m));
    });

    afterAll(async () => {
      for (const vm of vms) await vm.stopAndClean();
      await discovery?.stop();
      await net?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const discovered = async (): Promise<Hardware[]> =>
      (await client.list<Hardware>(HARDWARE, ns)).items.filter(
        (h) => h.metadata.labels?.["metalpool.io/discovered"] === "true",
      );

    it("creates exactly one correct Hardware per unknown machine, and none for the known one", async () => {
      await waitFor(
        "Hardware for both unknown machines",
        async () => (await discovered()).length >= 2,
        90_000,
        500,
      );
      // The known machine has been seen too (its firmware retries DHCP), and got nothing.
      await waitFor(
        "the known machine's DHCP",
        () => Promise.resolve(discovery?.logTail(400).includes(`"mac":"${machines.known.mac}"`) ?? false),
        90_000,
        500,
      );
      const hws = (await discovered()).sort((a, b) =>
        (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""),
      );
      expect(hws.map((h) => h.metadata.name)).toEqual(["discovered-525400123456", "discovered-525400abcdef"]);
      const [bios, uefi] = hws as [Hardware, Hardware];
      expect(bios.spec.interfaces?.[0]?.dhcp).toMatchObject({
        mac: machines.bios.mac,
        arch: "x86_64",
        uefi: false,
      });
      expect(uefi.spec.interfaces?.[0]?.dhcp).toMatchObject({
        mac: machines.uefi.mac,
        arch: "x86_64",
        uefi: true,
      });
      expect(bios.metadata.annotations?.["metalpool.io/uuid"]).toBe(machines.bios.smbiosUuid);
      expect(uefi.metadata.annotations?.["metalpool.io/uuid"]).toBe(machines.uefi.smbiosUuid);
      expect(bios.metadata.annotations?.["metalpool.io/user-class"]).toBe("iPXE");
      for (const hw of hws) {
        const last = Number(hw.spec.interfaces?.[0]?.dhcp?.ip?.address?.split(".")[3]);
        expect(last).toBeGreaterThanOrEqual(100);
        expect(last).toBeLessThanOrEqual(150);
        expect(hw.metadata.labels?.["metalpool.io/approval"]).toBe("pending");
      }
      expect(new Set(hws.map((h) => h.spec.interfaces?.[0]?.dhcp?.ip?.address)).size).toBe(2);
      const all = (await client.list<Hardware>(HARDWARE, ns)).items;
      expect(
        all.filter((h) => h.spec.interfaces?.some((i) => i.dhcp?.mac === machines.known.mac)),
      ).toHaveLength(1);
    });
  },
);
