// Writes the Grafana dashboards the chart ships from hack/dashboards/*.ts (the JSON is generated, never edited
// by hand; a test fails when the committed files drift from these sources).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bmc } from "./dashboards/bmc.ts";
import { build, type DashboardSpec } from "./dashboards/common.ts";
import { discovery } from "./dashboards/discovery.ts";
import { fleet } from "./dashboards/fleet.ts";
import { pool } from "./dashboards/pool.ts";

export const DASHBOARD_DIR = "charts/metalpool/files/dashboards";
export const DASHBOARDS: readonly DashboardSpec[] = [fleet, pool, bmc, discovery];

/** File name → content, one `<uid>.json` per dashboard. */
export function renderDashboards(): Map<string, string> {
  return new Map(DASHBOARDS.map((d) => [`${d.uid}.json`, JSON.stringify(build(d), null, 2) + "\n"]));
}

if (import.meta.main) {
  mkdirSync(DASHBOARD_DIR, { recursive: true });
  const rendered = renderDashboards();
  for (const old of readdirSync(DASHBOARD_DIR)) if (!rendered.has(old)) rmSync(join(DASHBOARD_DIR, old));
  for (const [name, json] of rendered) {
    writeFileSync(join(DASHBOARD_DIR, name), json);
    console.log(`wrote ${join(DASHBOARD_DIR, name)}`);
  }
}
