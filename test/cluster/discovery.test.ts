/**
 * Discovery installed by the chart into a real single-node cluster: it runs on the node's network, binds
 * UDP port 67 as uid 65532 with NET_BIND_SERVICE as its only capability (the file capability on the image's
 * Node, no privilege escalation), turns a PXE DHCPDISCOVER sent to the node's address into a Hardware, and
 * its metrics Service answers on the ClusterIP.
 */
import { createSocket } from "node:dgram";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { HARDWARE, type Hardware } from "../../lib/api/tinkerbell.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { OVMF_UUID_OPTION, pxeDiscover } from "../fixtures/dhcp.ts";
import { clusterAssets, NET, startCluster, type Cluster } from "../harness/cluster.ts";
import { clients, componentPods, helmInstall, isReady, processStatus } from "../harness/cluster-workloads.ts";
import { waitFor } from "../harness/ports.ts";

const found = clusterAssets();
if (!found.ok) console.warn(`test/cluster/discovery.test.ts skipped: ${found.why}`);
const RELEASE = "mp";
const NS = "metalpool-system";
const TARGET = "discovered";
/** CAP_NET_BIND_SERVICE is capability 10. */
const NET_BIND_SERVICE_ONLY = (1 << 10).toString(16).padStart(16, "0");

describe.skipIf(!found.ok)(
  `the chart in a real cluster: discovery${found.ok ? "" : ` (skipped: ${found.why})`}`,
  () => {
    let cluster: Cluster;
    let api: ReturnType<typeof clients>;

    beforeAll(async () => {
      if (!found.ok) return;
      cluster = await startCluster(found.assets);
      api = clients(cluster);
      await api.core.createNamespace({ body: { metadata: { name: TARGET } } });
      const values = join(cluster.dir, "discovery-values.yaml");
      writeFileSync(
        values,
        stringify({
          operator: { replicas: 1 },
          discovery: {
            enabled: true,
            namespace: TARGET,
            policy: {
              autoApprove: [{ macPrefix: "52:54:00:aa" }],
              addresses: { range: "10.50.0.10-10.50.0.12", netmask: "255.255.255.0", gateway: "10.50.0.1" },
            },
          },
        }),
      );
      await helmInstall(cluster, RELEASE, NS, ["-f", values]);
    }, 300_000);

    afterAll(async () => {
      await cluster?.stop();
    });

    it("runs on the node's network and binds UDP 67 as uid 65532 with NET_BIND_SERVICE alone", async () => {
      const [pod] = await componentPods(api.core, NS, RELEASE, "discovery");
      expect(pod && isReady(pod)).toBe(true);
      expect(pod?.spec?.hostNetwork).toBe(true);
      expect(pod?.status?.podIP).toBe(NET.nodeAddress);
      const pid = cluster.containerPid(pod?.status?.containerStatuses?.[0]?.containerID ?? "");
      const status = processStatus(pid);
      expect(status.Uid?.split("\t")).toEqual(["65532", "65532", "65532", "65532"]);
      expect(status.CapEff).toBe(NET_BIND_SERVICE_ONLY);
      expect(status.CapPrm).toBe(NET_BIND_SERVICE_ONLY);
      expect(status.CapBnd).toBe(NET_BIND_SERVICE_ONLY);
      expect(status.CapAmb).toBe("0000000000000000");
      expect(status.NoNewPrivs).toBe("1");
      // The socket on the node's port 67 is this process's.
      const listeners = cluster.onNode("ss", ["-ulnpH", "sport = :67"]);
      expect(listeners).toContain(`pid=${pid},`);
    });

    it("turns a PXE DHCPDISCOVER sent to the node's address into a Hardware", async () => {
      const socket = createSocket("udp4");
      const datagram = pxeDiscover("52:54:00:aa:00:01", { uuid: OVMF_UUID_OPTION });
      // Firmware retries; so do we, until discovery has seen it (the first may race the informer's sync).
      const client = new KubeClient(cluster.kc);
      let hw: Hardware | null = null;
      await waitFor(
        "a discovered Hardware",
        async () => {
          await new Promise<void>((resolve, reject) =>
            socket.send(datagram, 67, NET.nodeAddress, (err) => (err ? reject(err) : resolve())),
          );
          hw = await client.getOrNull<Hardware>(HARDWARE, TARGET, "discovered-525400aa0001");
          return hw !== null;
        },
        30_000,
        1_000,
      );
      socket.close();
      const created = hw as unknown as Hardware;
      expect(created.metadata.labels).toMatchObject({
        "metalpool.io/discovered": "true",
        "metalpool.io/arch": "x86_64",
        "metalpool.io/uefi": "true",
        "metalpool.io/approved": "true",
      });
      expect(created.metadata.annotations?.["metalpool.io/uuid"]).toBe(
        "a1b2c3d4-e5f6-4718-9a2b-3c4d5e6f7a8b",
      );
      expect(created.spec.interfaces?.[0]?.dhcp?.mac).toBe("52:54:00:aa:00:01");
      expect(created.spec.interfaces?.[0]?.dhcp?.ip?.address).toBe("10.50.0.10");
    });

    it("answers on the discovery metrics Service's ClusterIP, counting what it received", async () => {
      const service = await api.core.readNamespacedService({
        name: `${RELEASE}-discovery-metrics`,
        namespace: NS,
      });
      const res = await fetch(`http://${service.spec?.clusterIP}:8081/metrics`, {
        signal: AbortSignal.timeout(5_000),
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toMatch(/^metalpool_discovery_hardware_created_total\{approval="approved"\} 1$/m);
      // At least the one datagram that made the Hardware (the test resends until it sees it).
      expect(
        Number(/^metalpool_discovery_packets_parsed_total (\d+)$/m.exec(text)?.[1]),
      ).toBeGreaterThanOrEqual(1);
    });

    it("needs no more and no less: without the file capability port 67 is refused, without the add nothing starts", async () => {
      // The same image and node, one privilege fewer each time; each pod tries to bind UDP 67 and says how it went.
      const bind =
        "const s = require('dgram').createSocket({ type: 'udp4', reuseAddr: true });" +
        "s.on('error', (e) => { console.log('bind ' + e.code); process.exit(0); });" +
        "s.bind(67, () => { console.log('bind ok'); process.exit(0); });";
      const tries = {
        "file-cap": {
          command: ["/usr/local/lib/metalpool/node-net-bind", "-e", bind],
          add: ["NET_BIND_SERVICE"],
        },
        "add-only": { command: ["/usr/local/bin/node", "-e", bind], add: ["NET_BIND_SERVICE"] },
        "file-cap-no-add": { command: ["/usr/local/lib/metalpool/node-net-bind", "-e", bind], add: [] },
      };
      for (const [name, { command, add }] of Object.entries(tries)) {
        await api.core.createNamespacedPod({
          namespace: TARGET,
          body: {
            metadata: { name },
            spec: {
              hostNetwork: true,
              restartPolicy: "Never",
              securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
              containers: [
                {
                  name: "try",
                  image: found.ok ? found.assets.IMAGE_REF : "",
                  imagePullPolicy: "Never",
                  command,
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ["ALL"], add },
                  },
                },
              ],
            },
          },
        });
      }
      const outcome = async (name: string): Promise<string> => {
        let log = "";
        await waitFor(
          `pod ${name} finished`,
          async () => {
            const pod = await api.core.readNamespacedPod({ name, namespace: TARGET });
            log = cluster.containerLogs(TARGET, name, "try");
            return pod.status?.containerStatuses?.[0]?.state?.terminated !== undefined && log !== "";
          },
          60_000,
          250,
        );
        return log;
      };
      expect(await outcome("file-cap")).toContain("bind ok");
      expect(await outcome("add-only")).toContain("bind EACCES");
      // The kernel refuses to execute a binary whose file capability the container's bounding set lacks.
      expect(await outcome("file-cap-no-add")).toContain("operation not permitted");
    });
  },
);
