/**
 * The Helm chart with real helm (built from its Go module, hack/install-helm.sh): it lints, renders objects
 * the real API server accepts, and its RBAC is enough for the operator to run a pool — and no more (the
 * operator's ServiceAccount cannot delete Hardware or list Secrets).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiException, CoreV1Api, KubeConfig, KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { HARDWARE } from "../../lib/api/tinkerbell.ts";
import { envName } from "../../lib/flags.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { REPO_DIR } from "../harness/control-plane.ts";
import { createNamespace, testKubeConfig } from "../harness/kube.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { WorkflowSimulator } from "../harness/workflow-simulator.ts";
import { World, hardware, poolObject } from "../operator/fixtures.ts";

const helm = process.env.METALPOOL_HELM || execFileSync("bash", [join(REPO_DIR, "hack/install-helm.sh")], { encoding: "utf8" }).trim();
const chart = join(REPO_DIR, "charts/metalpool");
const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);

function render(release: string, namespace: string, ...sets: string[]): KubernetesObject[] {
  const args = ["template", release, chart, "--namespace", namespace, "--kube-version", "1.34.4", ...sets.flatMap((s) => ["--set", s])];
  const out = execFileSync(helm, args, { encoding: "utf8" });
  return parseAllDocuments(out).map((d) => d.toJS() as KubernetesObject).filter(Boolean);
}

const kinds = (objs: KubernetesObject[]): string[] => objs.map((o) => `${o.kind}/${o.metadata?.name}`).sort();

describe("the Helm chart", () => {
  it("lints", () => {
    expect(execFileSync(helm, ["lint", chart, "--kube-version", "1.34.4"], { encoding: "utf8" })).toContain("0 chart(s) failed");
  });

  it("renders the operator by default, and discovery and the ServiceMonitor when enabled", () => {
    expect(kinds(render("mp", "tink"))).toEqual([
      "ClusterRole/mp-operator",
      "ClusterRoleBinding/mp-operator",
      "Deployment/mp-operator",
      "Role/mp-leader-election",
      "RoleBinding/mp-leader-election",
      "Service/mp-operator-metrics",
      "ServiceAccount/mp-operator",
    ]);
    const all = render("mp", "tink", "discovery.enabled=true", "serviceMonitor.enabled=true", "prometheusRule.enabled=true", "grafanaDashboard.enabled=true");
    expect(kinds(all)).toEqual(
      expect.arrayContaining([
        "Deployment/mp-discovery",
        "Service/mp-discovery-metrics",
        "ConfigMap/mp-discovery-policy",
        "ServiceMonitor/mp-operator",
        "ClusterRole/mp-discovery",
        "PodMonitor/mp-discovery",
        "PrometheusRule/mp",
        "ConfigMap/mp-fleet-dashboard",
        "ConfigMap/mp-pool-dashboard",
        "ConfigMap/mp-bmc-dashboard",
        "ConfigMap/mp-discovery-dashboard",
      ]),
    );
    const rule = all.find((o) => o.kind === "PrometheusRule") as { spec: { groups: { rules: unknown[] }[] } } | undefined;
    expect(rule?.spec.groups[0]?.rules).toHaveLength(12);
    const dashboards = all.filter((o) => o.metadata?.labels?.grafana_dashboard === "1") as unknown as { data: Record<string, string> }[];
    const uids = dashboards.flatMap((d) => Object.entries(d.data).map(([key, json]) => [key, (JSON.parse(json) as { uid?: string }).uid]));
    expect(uids.sort()).toEqual([
      ["metalpool-bmc.json", "metalpool-bmc"],
      ["metalpool-discovery.json", "metalpool-discovery"],
      ["metalpool-fleet.json", "metalpool-fleet"],
      ["metalpool-pool.json", "metalpool-pool"],
    ]);
    // The pool's or Hardware's namespace label must survive the scrape (not become exported_namespace).
    const monitors = all.filter((o) => o.kind === "ServiceMonitor" || o.kind === "PodMonitor") as unknown as { spec: Record<string, { honorLabels?: boolean }[]> }[];
    expect(monitors.flatMap((m) => [...(m.spec.endpoints ?? []), ...(m.spec.podMetricsEndpoints ?? [])].map((e) => e.honorLabels))).toEqual([true, true]);
    const discovery = all.find((o) => o.kind === "Deployment" && o.metadata?.name === "mp-discovery") as { spec: { template: { spec: { hostNetwork: boolean } } } } | undefined;
    expect(discovery?.spec.template.spec.hostNetwork).toBe(true);
    // Discovery listens on a hostile network: it may read no Secret and no BMC.
    const role = all.find((o) => o.kind === "ClusterRole" && o.metadata?.name === "mp-discovery") as { rules: { resources: string[] }[] } | undefined;
    expect(role?.rules.flatMap((r) => r.resources)).toEqual(["hardware", "events"]);
  });

  it("passes operator.approveVouched to the operator's --approve-vouched, off by default", () => {
    type Container = { env: { name: string; value?: string }[] };
    const approveVouched = (...sets: string[]): string | undefined => {
      const operator = render("mp", "tink", ...sets).find((o) => o.kind === "Deployment" && o.metadata?.name === "mp-operator") as { spec: { template: { spec: { containers: Container[] } } } } | undefined;
      return operator?.spec.template.spec.containers[0]?.env.find((e) => e.name === envName("--approve-vouched"))?.value;
    };
    expect(approveVouched()).toBe("false");
    expect(approveVouched("operator.approveVouched=true")).toBe("true");
  });
});

describe("the chart's RBAC", () => {
  let ns: string;
  let release: string;
  let operator: OperatorProcess | undefined;
  let sim: WorkflowSimulator | undefined;
  let saClient: KubeClient;
  let saDir = "";

  beforeAll(async () => {
    ns = await createNamespace(core, "chart");
    release = `mp-${ns.slice(-6)}`;
    const objects = KubernetesObjectApi.makeApiClient(kc);
    for (const obj of render(release, ns)) {
      obj.metadata = { ...obj.metadata, namespace: obj.metadata?.namespace ?? ns };
      await objects.create(obj); // the API server validates every rendered object
    }
    const token = await core.createNamespacedServiceAccountToken({ name: `${release}-operator`, namespace: ns, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const server = kc.getCurrentCluster()?.server ?? "";
    const saKc = new KubeConfig();
    saKc.loadFromOptions({
      clusters: [{ name: "c", server, skipTLSVerify: true }],
      users: [{ name: "operator", token: token.status?.token ?? "" }],
      contexts: [{ name: "c", cluster: "c", user: "operator", namespace: ns }],
      currentContext: "c",
    });
    saDir = mkdtempSync(join(tmpdir(), "metalpool-sa-"));
    const kubeconfig = join(saDir, "kubeconfig");
    writeFileSync(kubeconfig, saKc.exportConfig());
    saClient = new KubeClient(saKc);
    sim = new WorkflowSimulator(kc, ns);
    sim.start();
    operator = startOperator({ kubeconfig, namespace: ns, identity: "chart-sa" });
  });

  afterAll(async () => {
    sim?.stop();
    await operator?.stop();
    if (saDir) rmSync(saDir, { recursive: true, force: true });
  });

  it("lets the operator run a pool as its ServiceAccount", async () => {
    const world = new World(kc, ns);
    await world.client.create(HARDWARE, hardware(ns, "rbac-1"));
    await world.client.create(POOL, poolObject(ns, "p", { replicas: 1 }));
    const p = await world.until("p", "ready as the chart's ServiceAccount", (x) => x.status?.readyReplicas === 1, 60_000);
    expect(p.status?.members?.[0]?.hardware).toBe("rbac-1");
    expect(p.metadata.finalizers).toContain("metalpool.io/release-hardware");
  });

  it("does not let the operator delete Hardware or list Secrets", async () => {
    const forbidden = async (call: () => Promise<unknown>): Promise<number> => {
      try {
        await call();
        return 200;
      } catch (err) {
        return (err as { code?: number }).code ?? (err instanceof ApiException ? err.code : 0);
      }
    };
    expect(await forbidden(() => saClient.request("DELETE", `/apis/tinkerbell.org/v1alpha1/namespaces/${ns}/hardware/rbac-1`))).toBe(403);
    expect(await forbidden(() => saClient.request("GET", `/api/v1/namespaces/${ns}/secrets`))).toBe(403);
  });
});
