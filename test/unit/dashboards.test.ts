/**
 * The Grafana dashboards the chart ships are generated from hack/dashboards/*.ts: the committed JSON must be
 * what the generator writes now, every panel must query the dashboard's data source variable, say what it
 * answers, group by low-cardinality labels only, and (for the operator's dashboards) name only metrics the
 * operator exports. Every panel must be declared in test/harness/dashboards.ts with the scenario(s) that must
 * show it; those scenarios (test/stack/*, test/charts/observability.test.ts) ask a real Prometheus.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DASHBOARD_DIR, renderDashboards } from "../../hack/gen-dashboards.ts";
import { OperatorMetrics } from "../../operator/metrics.ts";
import {
  PANEL_EXPECTATIONS,
  SCENARIOS,
  dashboardPanels,
  dashboardVariables,
  resolve,
} from "../harness/dashboards.ts";

const REPO = join(import.meta.dirname, "../..");
const dir = join(REPO, DASHBOARD_DIR);

interface Target {
  expr: string;
  datasource?: { uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { uid?: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string }[] };
}

const dashboards = (): Dashboard[] =>
  readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as Dashboard);

describe("the shipped dashboards", () => {
  it("are exactly what `npm run gen:dashboards` writes", () => {
    const rendered = renderDashboards();
    expect(readdirSync(dir).sort()).toEqual([...rendered.keys()].sort());
    for (const [name, json] of rendered) expect(readFileSync(join(dir, name), "utf8"), name).toBe(json);
  });

  it("are fleet, pool, BMC and discovery, with the data source, namespace and pool selectors", () => {
    const byUid = new Map(dashboards().map((d) => [d.uid, d.templating.list.map((v) => v.name)]));
    expect(Object.fromEntries(byUid)).toEqual({
      "metalpool-fleet": ["datasource", "namespace"],
      "metalpool-pool": ["datasource", "namespace", "pool"],
      "metalpool-bmc": ["datasource", "namespace", "pool"],
      "metalpool-discovery": ["datasource", "namespace"],
    });
  });

  it("every panel says what it answers and queries ${datasource}; panel ids are unique", () => {
    for (const d of dashboards()) {
      const panels = d.panels.filter((p) => p.type !== "row");
      expect(new Set(d.panels.map((p) => p.id)).size, d.uid).toBe(d.panels.length);
      for (const p of panels) {
        expect(p.description, `${d.uid}: ${p.title}`).toMatch(/\?|\.$/);
        expect(p.datasource?.uid, `${d.uid}: ${p.title}`).toBe("${datasource}");
        expect(p.targets?.length, `${d.uid}: ${p.title}`).toBeGreaterThan(0);
        for (const t of p.targets ?? []) expect(t.datasource?.uid).toBe("${datasource}");
      }
    }
  });

  it("group only by low-cardinality labels, never a server, MAC, Hardware or Workflow", () => {
    const allowed = new Set(["namespace", "pool", "phase", "state", "reason", "operation", "result", "le"]);
    allowed.add("verb").add("approval").add("version").add("job").add("instance");
    const grouped = dashboards().flatMap((d) =>
      d.panels.flatMap((p) =>
        (p.targets ?? []).flatMap((t) =>
          [...t.expr.matchAll(/\b(?:by|on)\s*\(([^)]*)\)/g)].flatMap(([, labels]) =>
            (labels ?? "").split(",").map((l) => ({ where: `${d.uid} "${p.title}"`, label: l.trim() })),
          ),
        ),
      ),
    );
    expect(grouped.length).toBeGreaterThan(20);
    for (const { where, label } of grouped)
      expect(allowed.has(label), `${where} groups by ${label}`).toBe(true);
  });

  it("the operator's dashboards name only metrics the operator exports", async () => {
    const exported = new Set(
      (await new OperatorMetrics().registry.getMetricsAsJSON()).flatMap((m) =>
        String(m.type) === "histogram" ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
      ),
    );
    const operatorDashboards = dashboards().filter((d) => d.uid !== "metalpool-discovery");
    const used = operatorDashboards.flatMap((d) =>
      d.panels.flatMap((p) =>
        (p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/\b(?:metalpool|process|nodejs)_\w+/g)]),
      ),
    );
    expect(used.length).toBeGreaterThan(40);
    for (const [name] of used) expect(exported, name).toContain(name);
  });

  it("every panel is declared with the scenario(s) that must show it, and nothing else is declared", () => {
    const panels = dashboardPanels().map((p) => p.key);
    expect(panels.length).toBeGreaterThan(50);
    expect(new Set(panels).size, "panel titles are unique within a dashboard").toBe(panels.length);
    const undeclared = panels.filter((k) => !(k in PANEL_EXPECTATIONS));
    expect(undeclared, "panels no scenario is declared to show (test/harness/dashboards.ts)").toEqual([]);
    const stale = Object.keys(PANEL_EXPECTATIONS).filter((k) => !panels.includes(k));
    expect(stale, "declared panels no dashboard has").toEqual([]);
    for (const [key, scenarios] of Object.entries(PANEL_EXPECTATIONS)) {
      const named = Object.keys(scenarios);
      expect(named.length, `${key}: no scenario shows it`).toBeGreaterThan(0);
      for (const s of named) expect(SCENARIOS, `${key}: ${s}`).toContain(s);
    }
  });

  it("every query resolves with the variables the checks substitute", () => {
    expect(dashboardVariables()).toEqual(["datasource", "namespace", "pool"]);
    const window = { start: 1000, end: 1300 };
    for (const p of dashboardPanels())
      for (const t of p.targets)
        expect(resolve(t.expr, { namespace: "ns" }, window), p.key).not.toContain("$");
    expect(() => resolve("rate(x[$__unknown])", { namespace: "ns" }, window)).toThrow(/\$__unknown/);
  });
});
