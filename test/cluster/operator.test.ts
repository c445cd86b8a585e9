/**
 * The chart installed by helm into a real single-node cluster (test/harness/cluster.ts), running the image
 * built from the Dockerfile: the operator Deployment's two replicas become Ready through their probes, one
 * holds the Lease, the leader reconciles a pool to Ready, and the metrics Service answers on its ClusterIP.
 * Workflows are moved by the WorkflowSimulator (no Tinkerbell runs here).
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HARDWARE } from "../../lib/api/tinkerbell.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { clusterAssets, startCluster, type Cluster } from "../harness/cluster.ts";
import {
  clients,
  componentPods,
  helmInstall,
  isReady,
  leaseHolder,
  metricValue,
  processStatus,
} from "../harness/cluster-workloads.ts";
import { WorkflowSimulator } from "../harness/workflow-simulator.ts";
import { World, hardware, poolObject } from "../operator/fixtures.ts";

const found = clusterAssets();
if (!found.ok) console.warn(`test/cluster/operator.test.ts skipped: ${found.why}`);
const RELEASE = "mp";
const NS = "metalpool-system";

describe.skipIf(!found.ok)(
  `the chart in a real cluster: operator${found.ok ? "" : ` (skipped: ${found.why})`}`,
  () => {
    let cluster: Cluster;
    let api: ReturnType<typeof clients>;
    let sim: WorkflowSimulator | undefined;

    beforeAll(async () => {
      if (!found.ok) return;
      cluster = await startCluster(found.assets);
      api = clients(cluster);
      const start = Date.now();
      // The chart's defaults name the image this build produced; only the timings are made test-sized.
      await helmInstall(cluster, RELEASE, NS, ["--set", "operator.resync=10s,operator.retryBackoff=1s"]);
      console.info(
        `cluster up in ${cluster.timings["ready for workloads"]} ms (${JSON.stringify(cluster.timings)}); ` +
          `helm install --wait ${Date.now() - start} ms`,
      );
    }, 300_000);

    afterAll(async () => {
      sim?.stop();
      await cluster?.stop();
    });

    it("runs two operator replicas, Ready through their probes, as non-root with a read-only root", async () => {
      const deployment = await api.apps.readNamespacedDeployment({
        name: `${RELEASE}-operator`,
        namespace: NS,
      });
      expect(deployment.status?.readyReplicas).toBe(2);
      const pods = await componentPods(api.core, NS, RELEASE, "operator");
      expect(pods.filter(isReady)).toHaveLength(2);
      for (const pod of pods) {
        const container = pod.spec?.containers[0];
        expect(container?.image).toBe(found.ok ? found.assets.IMAGE_REF : "");
        expect(container?.readinessProbe?.httpGet?.path).toBe("/readyz");
        expect(container?.livenessProbe?.httpGet?.path).toBe("/healthz");
        expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);
        // What the probes saw, asked directly: the pod answers /readyz on its own address.
        const res = await fetch(`http://${pod.status?.podIP}:8080/readyz`);
        expect(res.status).toBe(200);
        // The process itself, seen from the node: uid 65532, no capability at all.
        const pid = cluster.containerPid(pod.status?.containerStatuses?.[0]?.containerID ?? "");
        const status = processStatus(pid);
        expect(status.Uid?.split("\t")[0]).toBe("65532");
        expect(status.CapEff).toBe("0000000000000000");
        expect(status.NoNewPrivs).toBe("1");
        // Its root filesystem is mounted read-only.
        const root = readFileSync(`/proc/${pid}/mountinfo`, "utf8")
          .split("\n")
          .map((line) => line.split(" "))
          .find((fields) => fields[4] === "/");
        expect(root?.[5]?.split(",")).toContain("ro");
      }
    });

    it("has exactly one replica holding the Lease, and only that one reports itself leader", async () => {
      const pods = await componentPods(api.core, NS, RELEASE, "operator");
      const holder = await leaseHolder(api.coordination, NS);
      expect(pods.map((p) => p.metadata?.name)).toContain(holder);
      const leaders = await Promise.all(
        pods.map((p) => metricValue(`http://${p.status?.podIP}:8080/metrics`, "metalpool_leader")),
      );
      expect([...leaders].sort()).toEqual([0, 1]);
      const leaderPod = pods[leaders.indexOf(1)];
      expect(leaderPod?.metadata?.name).toBe(holder);
    });

    it("reconciles a pool to Ready", async () => {
      const ns = "pools";
      await api.core.createNamespace({ body: { metadata: { name: ns } } });
      const world = new World(cluster.kc, ns);
      sim = new WorkflowSimulator(cluster.kc, ns);
      sim.start();
      await world.client.create(HARDWARE, hardware(ns, "server-1"));
      await world.client.create(HARDWARE, hardware(ns, "server-2"));
      await world.client.create(POOL, poolObject(ns, "workers", { replicas: 2 }));
      const pool = await world.until("workers", "pool Ready", (p) => p.status?.readyReplicas === 2, 90_000);
      expect(pool.status?.members?.map((m) => m.hardware).sort()).toEqual(["server-1", "server-2"]);
      expect(sim.errors).toEqual([]);
    });

    it("answers on the metrics Service's ClusterIP", async () => {
      const service = await api.core.readNamespacedService({
        name: `${RELEASE}-operator-metrics`,
        namespace: NS,
      });
      const clusterIP = service.spec?.clusterIP ?? "";
      expect(clusterIP).toMatch(/^10\.217\.0\./);
      const res = await fetch(`http://${clusterIP}:8080/metrics`, { signal: AbortSignal.timeout(5_000) });
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^metalpool_leader [01]$/m);
    });
  },
);
