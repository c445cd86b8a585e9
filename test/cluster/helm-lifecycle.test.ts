/**
 * The release's life in a real cluster: `helm upgrade` to a new image tag rolls the operator while leadership
 * passes from replica to replica with never two acting at once; `helm rollback` restores the first revision;
 * `helm uninstall` removes everything it installed except the CRD, and leaves pools and the servers they
 * claimed as they were.
 */
import { ApiextensionsV1Api, RbacAuthorizationV1Api, Watch, type V1Lease } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HARDWARE } from "../../lib/api/tinkerbell.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { clusterAssets, startCluster, type Cluster } from "../harness/cluster.ts";
import {
  CHART,
  clients,
  componentPods,
  helmInstall,
  leaseHolder,
  metricValue,
  rolledOut,
} from "../harness/cluster-workloads.ts";
import { waitFor } from "../harness/ports.ts";
import { WorkflowSimulator } from "../harness/workflow-simulator.ts";
import { World, hardware, poolObject } from "../operator/fixtures.ts";

const found = clusterAssets();
if (!found.ok) console.warn(`test/cluster/helm-lifecycle.test.ts skipped: ${found.why}`);
const RELEASE = "mp";
const NS = "metalpool-system";
const POOLS = "pools";

/** Every leader gauge of every operator pod, sampled side by side while something happens. */
class LeaderSampler {
  maxLeadersAtOnce = 0;
  samples = 0;
  private running = true;
  private done: Promise<void> = Promise.resolve();

  start(cluster: Cluster): void {
    const { core } = clients(cluster);
    const loop = async (): Promise<void> => {
      while (this.running) {
        const pods = await componentPods(core, NS, RELEASE, "operator").catch(() => []);
        const values = await Promise.all(
          pods
            .filter((p) => p.status?.podIP && p.status.phase === "Running")
            .map((p) =>
              metricValue(`http://${p.status?.podIP}:8080/metrics`, "metalpool_leader").catch(() => 0),
            ),
        );
        this.maxLeadersAtOnce = Math.max(this.maxLeadersAtOnce, values.filter((v) => v === 1).length);
        this.samples += 1;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    this.done = loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** Every holderIdentity the leader Lease had, in order, as a watch sees them. */
async function watchHolders(cluster: Cluster): Promise<{ holders: string[]; stop: () => void }> {
  const holders: string[] = [];
  const request = await new Watch(cluster.kc).watch(
    `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`,
    { fieldSelector: "metadata.name=metalpool-operator" },
    (_phase: string, lease: V1Lease) => {
      const holder = lease.spec?.holderIdentity ?? "";
      if (holders.at(-1) !== holder) holders.push(holder);
    },
    () => undefined,
  );
  return { holders, stop: () => request.abort() };
}

describe.skipIf(!found.ok)(
  `the chart in a real cluster: upgrade, rollback, uninstall${found.ok ? "" : ` (skipped: ${found.why})`}`,
  () => {
    let cluster: Cluster;
    let api: ReturnType<typeof clients>;
    let sim: WorkflowSimulator | undefined;
    let world: World;
    const image = found.ok ? found.assets.IMAGE_REF : "";
    const nextImage = `${image}-next`;

    const operatorImages = async (): Promise<string[]> =>
      (await componentPods(api.core, NS, RELEASE, "operator"))
        .filter((p) => !p.metadata?.deletionTimestamp)
        .map((p) => p.spec?.containers[0]?.image ?? "");

    beforeAll(async () => {
      if (!found.ok) return;
      cluster = await startCluster(found.assets);
      api = clients(cluster);
      await helmInstall(cluster, RELEASE, NS, ["--set", "operator.resync=10s,operator.retryBackoff=1s"]);
      await api.core.createNamespace({ body: { metadata: { name: POOLS } } });
      world = new World(cluster.kc, POOLS);
      sim = new WorkflowSimulator(cluster.kc, POOLS);
      sim.start();
      await world.client.create(HARDWARE, hardware(POOLS, "server-1"));
      await world.client.create(POOL, poolObject(POOLS, "workers", { replicas: 1 }));
      await world.until("workers", "pool Ready", (p) => p.status?.readyReplicas === 1, 90_000);
    }, 300_000);

    afterAll(async () => {
      sim?.stop();
      await cluster?.stop();
    });

    it("rolls the operator to a new image tag, passing leadership without two leaders at once", async () => {
      // A new tag of the same content: what a release bump looks like to Kubernetes.
      cluster.tagImage(image, nextImage);
      const before = await leaseHolder(api.coordination, NS);
      const lease = await watchHolders(cluster);
      const sampler = new LeaderSampler();
      sampler.start(cluster);
      try {
        await cluster.helm(
          ...["upgrade", RELEASE, CHART, "--namespace", NS, "--reuse-values"],
          ...["--set", `image.tag=${nextImage.split(":").at(-1)}`, "--wait", "--timeout", "3m"],
        );
        await rolledOut(api.apps, NS, `${RELEASE}-operator`);
        const names = (await componentPods(api.core, NS, RELEASE, "operator")).map((p) => p.metadata?.name);
        await waitFor(
          "a new replica leading",
          async () => names.includes(await leaseHolder(api.coordination, NS)),
          30_000,
        );
      } finally {
        await sampler.stop();
        lease.stop();
      }
      console.info(
        `lease holders during the upgrade: ${JSON.stringify(lease.holders)}; ${sampler.samples} leader samples`,
      );
      expect(await operatorImages()).toEqual([nextImage, nextImage]);
      expect(sampler.samples).toBeGreaterThan(10);
      expect(sampler.maxLeadersAtOnce).toBe(1);
      // Each leader let go (the holder emptied) before the next took the Lease: handovers, not takeovers.
      const holders = [before, ...lease.holders].filter((h, i, all) => i === 0 || h !== all[i - 1]);
      expect(new Set(holders.filter(Boolean)).size).toBeGreaterThanOrEqual(2);
      holders.forEach((holder, i) => {
        if (i > 0 && holder !== "") expect(holders[i - 1]).toBe("");
      });
      // The pool went on untouched: same member, no new provisioning.
      const pool = await world.pool("workers");
      expect(pool?.status?.readyReplicas).toBe(1);
      expect(pool?.status?.members?.map((m) => m.hardware)).toEqual(["server-1"]);
      expect(sim?.seen).toHaveLength(1);
    });

    it("rolls back to the first revision", async () => {
      await cluster.helm("rollback", RELEASE, "1", "--namespace", NS, "--wait", "--timeout", "3m");
      await rolledOut(api.apps, NS, `${RELEASE}-operator`);
      expect(await operatorImages()).toEqual([image, image]);
      const history = JSON.parse(await cluster.helm("history", RELEASE, "--namespace", NS, "-o", "json")) as {
        revision: number;
        status: string;
        description: string;
      }[];
      expect(history.at(-1)).toMatchObject({ revision: 3, status: "deployed", description: "Rollback to 1" });
      const names = (await componentPods(api.core, NS, RELEASE, "operator")).map((p) => p.metadata?.name);
      await waitFor(
        "a replica of revision 3 leading",
        async () => names.includes(await leaseHolder(api.coordination, NS)),
        30_000,
      );
    });

    it("uninstalls everything but the CRD, leaving pools and claimed servers as they were", async () => {
      await cluster.helm("uninstall", RELEASE, "--namespace", NS, "--wait", "--timeout", "3m");
      const selector = `app.kubernetes.io/instance=${RELEASE}`;
      const { apps, core } = api;
      const rbac = cluster.kc.makeApiClient(RbacAuthorizationV1Api);
      const left = async (): Promise<string[]> => [
        ...(await apps.listNamespacedDeployment({ namespace: NS, labelSelector: selector })).items.map(
          (o) => `Deployment/${o.metadata?.name}`,
        ),
        ...(await core.listNamespacedService({ namespace: NS, labelSelector: selector })).items.map(
          (o) => `Service/${o.metadata?.name}`,
        ),
        ...(await core.listNamespacedServiceAccount({ namespace: NS, labelSelector: selector })).items.map(
          (o) => `ServiceAccount/${o.metadata?.name}`,
        ),
        ...(await core.listNamespacedConfigMap({ namespace: NS, labelSelector: selector })).items.map(
          (o) => `ConfigMap/${o.metadata?.name}`,
        ),
        ...(await rbac.listNamespacedRole({ namespace: NS, labelSelector: selector })).items.map(
          (o) => `Role/${o.metadata?.name}`,
        ),
        ...(await rbac.listNamespacedRoleBinding({ namespace: NS, labelSelector: selector })).items.map(
          (o) => `RoleBinding/${o.metadata?.name}`,
        ),
        ...(await rbac.listClusterRole({ labelSelector: selector })).items.map(
          (o) => `ClusterRole/${o.metadata?.name}`,
        ),
        ...(await rbac.listClusterRoleBinding({ labelSelector: selector })).items.map(
          (o) => `ClusterRoleBinding/${o.metadata?.name}`,
        ),
        ...(await core.listNamespacedPod({ namespace: NS, labelSelector: selector })).items.map(
          (o) => `Pod/${o.metadata?.name}`,
        ),
      ];
      await waitFor("the release's objects gone", async () => (await left()).length === 0, 60_000);
      const crd = await cluster.kc
        .makeApiClient(ApiextensionsV1Api)
        .readCustomResourceDefinition({ name: "baremetalpools.metalpool.io" });
      expect(crd.metadata?.name).toBe("baremetalpools.metalpool.io");
      const pool = await world.pool("workers");
      expect(pool?.metadata.finalizers).toContain("metalpool.io/release-hardware");
      expect(pool?.status?.readyReplicas).toBe(1);
      expect((await world.claimedBy(pool?.metadata.uid ?? "")).map((h) => h.metadata.name)).toEqual([
        "server-1",
      ]);
    });
  },
);
