/**
 * Alert rules and the Grafana dashboard shipped in the chart, checked with real Prometheus tools: promtool
 * unit-tests the alerts, and a real Prometheus scrapes a running operator so every dashboard query is
 * proven to parse and to find the metrics it charts.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HARDWARE } from "../../lib/api/tinkerbell.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { REPO_DIR } from "../harness/control-plane.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "../harness/kube.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { waitFor } from "../harness/ports.ts";
import { startPrometheus, type Prometheus } from "../harness/prometheus.ts";
import { WorkflowSimulator } from "../harness/workflow-simulator.ts";
import { World, hardware, poolObject } from "../operator/fixtures.ts";

const files = join(REPO_DIR, "charts/metalpool/files");

describe("alert rules", () => {
  it("pass promtool's checks and unit tests", () => {
    expect(execFileSync("promtool", ["check", "rules", join(files, "alerts.yaml")], { encoding: "utf8" })).toContain("SUCCESS: 5 rules found");
    expect(execFileSync("promtool", ["test", "rules", join(REPO_DIR, "test/charts/alerts.promtool.yaml")], { encoding: "utf8" })).toContain("SUCCESS");
  });
});

describe("a real Prometheus scraping the operator", () => {
  const kc = testKubeConfig();
  let prom: Prometheus | undefined;
  let operator: OperatorProcess | undefined;
  let sim: WorkflowSimulator | undefined;

  beforeAll(async () => {
    const ns = await createNamespace(kc.makeApiClient(CoreV1Api), "prom");
    const world = new World(kc, ns);
    sim = new WorkflowSimulator(kc, ns);
    sim.start();
    operator = startOperator({ kubeconfig: kubeconfigPath(), namespace: ns, identity: "prom" });
    await world.client.create(HARDWARE, hardware(ns, "p1"));
    await world.client.create(POOL, poolObject(ns, "observed", { replicas: 1 }));
    await world.until("observed", "ready", (p) => p.status?.readyReplicas === 1);
    prom = await startPrometheus([new URL(await operator.opsUrl()).host], [join(files, "alerts.yaml")]);
  });

  afterAll(async () => {
    sim?.stop();
    await prom?.stop();
    await operator?.stop();
  });

  it("loads the alert rules, all healthy", async () => {
    const res = (await (await fetch(`${prom?.url}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string }[] }[] } };
    await waitFor("rules evaluated", async () => {
      const r = (await (await fetch(`${prom?.url}/api/v1/rules`)).json()) as typeof res;
      return r.data.groups.flatMap((g) => g.rules).every((rule) => rule.health === "ok");
    }, 30_000);
    expect(res.data.groups.flatMap((g) => g.rules.map((r) => r.name))).toEqual([
      "MetalpoolNoLeader",
      "MetalpoolPoolNotReady",
      "MetalpoolServersQuarantined",
      "MetalpoolProvisioningFailures",
      "MetalpoolReconcileErrors",
    ]);
  });

  it("answers every dashboard query, and the pool's panels show the pool", async () => {
    await waitFor("the Ready member scraped", async () => (await prom?.query('metalpool_pool_members{phase="Ready",pool="observed"}'))?.data.result[0]?.value[1] === "1", 30_000);
    const dashboard = JSON.parse(readFileSync(join(files, "dashboard.json"), "utf8")) as { panels: { title: string; targets: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr.replaceAll("$pool", ".*") })));
    expect(exprs.length).toBeGreaterThanOrEqual(8);
    for (const { panel, expr } of exprs) {
      const res = await prom?.query(expr);
      expect({ panel, expr, status: res?.status }).toEqual({ panel, expr, status: "success" });
    }
    const answered = async (expr: string): Promise<string | undefined> => (await prom?.query(expr))?.data.result[0]?.value[1];
    expect(await answered('sum(metalpool_pool_members{phase="Ready", pool=~".*"})')).toBe("1");
    expect(await answered('sum(metalpool_pool_desired_replicas{pool=~".*"})')).toBe("1");
    expect(await answered("max(metalpool_leader)")).toBe("1");
  });
});
