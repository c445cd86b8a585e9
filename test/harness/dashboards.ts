/**
 * Every panel of the Grafana dashboards the chart ships, which test scenario must show it, and the check
 * that asks a real Prometheus (test/harness/prometheus.ts) each panel's queries the way Grafana would at
 * the end of that scenario: the dashboard's variables substituted, range queries over the scenario's
 * window, instant queries at its end.
 *
 * The scenarios:
 *  - "operator-owned": test/stack/operator-owned.test.ts, the real Tinkerbell stack, a PXE-booting VM and
 *    metalpool-discovery beside smee; an unknown server PXE-boots at the end and becomes pending Hardware;
 *  - "machine-controller": test/stack/machine-controller.test.ts, the same with machine-controller's
 *    controllers owning the Workflow (no unknown server);
 *  - "simulated": test/charts/observability.test.ts, simulated Workflows that fail, a quarantine, a BMC
 *    nobody answers, and discovery refused by the API server: what the real stack cannot produce cheaply.
 *
 * What a scenario must show of a panel: "data", every query answers with at least one series holding a
 * number (an all-NaN series draws nothing); "nonzero", that and some number is not 0 (many series exist at
 * 0 from the start, so only this shows the scenario's events reached the panel).
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_DIR } from "./control-plane.ts";
import type { Prometheus } from "./prometheus.ts";

export const SCENARIOS = ["operator-owned", "machine-controller", "simulated"] as const;
export type Scenario = (typeof SCENARIOS)[number];
export type Expectation = "data" | "nonzero";

const D = "data";
const NZ = "nonzero";
/** Both real-stack scenarios and the simulated one, with the same expectation. */
const all = (e: Expectation): Record<Scenario, Expectation> => ({
  "operator-owned": e,
  "machine-controller": e,
  simulated: e,
});

/** `dashboard uid/panel title` → what each scenario that must show it shows. Every panel is here. */
export const PANEL_EXPECTATIONS: Record<string, Partial<Record<Scenario, Expectation>>> = {
  // Fleet.
  "metalpool-fleet/Free and eligible": all(NZ),
  // Simulated Workflows finish between two scrapes.
  "metalpool-fleet/Provisioning": { ...all(NZ), simulated: D },
  "metalpool-fleet/In service": all(NZ),
  "metalpool-fleet/Quarantined": { ...all(D), simulated: NZ },
  "metalpool-fleet/Awaiting approval": { "operator-owned": NZ, "machine-controller": D, simulated: D },
  "metalpool-fleet/Pools short of hardware": { ...all(D), simulated: NZ },
  "metalpool-fleet/Servers by state": all(NZ),
  // An instant query at the end: the real stacks have scaled to 0 by then.
  "metalpool-fleet/Ready / desired per pool": { ...all(D), simulated: NZ },
  "metalpool-fleet/Servers short per pool": { ...all(D), simulated: NZ },
  "metalpool-fleet/Claim → Ready, all pools (1h window)": all(NZ),
  "metalpool-fleet/Attempt success ratio (1h window)": all(NZ),
  "metalpool-fleet/Failed attempts by reason (per hour)": { ...all(D), simulated: NZ },
  "metalpool-fleet/Quarantines and releases (per hour)": all(NZ),
  "metalpool-fleet/Leader": all(NZ),
  // The simulated scenario's operator takes over from a previous leader.
  "metalpool-fleet/Leader changes (1h)": { ...all(D), simulated: NZ },
  "metalpool-fleet/Work queue": all(D),
  "metalpool-fleet/Versions": all(NZ),
  "metalpool-fleet/Reconcile latency": all(NZ),
  "metalpool-fleet/Reconciles by result": all(NZ),
  "metalpool-fleet/Operator memory": all(NZ),
  "metalpool-fleet/Operator CPU": all(NZ),
  "metalpool-fleet/Event loop lag (p99)": all(NZ),
  // Pool.
  // The real stacks scale to 0 seconds after the server is Ready: a point may or may not fall in between.
  "metalpool-pool/Ready": { ...all(D), simulated: NZ },
  "metalpool-pool/Desired": all(NZ),
  "metalpool-pool/Provisioning": { ...all(NZ), simulated: D },
  // The real stacks' retry backoff is a second: the Failed phase is gone before the next scrape. The
  // simulated scenario's is 5 s.
  "metalpool-pool/Failed, awaiting retry": { ...all(D), simulated: NZ },
  "metalpool-pool/Short of hardware": { ...all(D), simulated: NZ },
  "metalpool-pool/Claim → Ready p50 (24h)": all(NZ),
  "metalpool-pool/Members by phase": all(NZ),
  "metalpool-pool/Claim → Ready (heatmap)": all(NZ),
  "metalpool-pool/Claim → Ready (1h window)": all(NZ),
  "metalpool-pool/Mean time per stage (dashboard range)": all(NZ),
  "metalpool-pool/Mean time per stage (1h window)": all(NZ),
  "metalpool-pool/Attempts by result (per hour)": all(NZ),
  "metalpool-pool/Failed attempts by reason (per hour)": { ...all(D), simulated: NZ },
  "metalpool-pool/Retried attempts by result (per hour)": { ...all(D), simulated: NZ },
  "metalpool-pool/Quarantines, wipes and releases (per hour)": all(NZ),
  "metalpool-pool/Pool events (per hour)": all(NZ),
  // BMC.
  "metalpool-bmc/Unreachable or timed out (1h)": { ...all(D), simulated: NZ },
  "metalpool-bmc/Credentials or certificate refused (1h)": { ...all(D), simulated: NZ },
  "metalpool-bmc/Refused or failed by the BMC (1h)": { ...all(D), simulated: NZ },
  "metalpool-bmc/Not configured usably (1h)": { ...all(D), simulated: NZ },
  "metalpool-bmc/Requests by operation and result (per hour)": all(NZ),
  "metalpool-bmc/Failure ratio by operation (5m window)": { ...all(D), simulated: NZ },
  // The simulated scenario's only BMC requests are one unreachable inventory read: a histogram series
  // whose first sample already holds it, which rate() cannot see.
  "metalpool-bmc/Request latency": { "operator-owned": NZ, "machine-controller": NZ },
  "metalpool-bmc/Failures by result (per hour)": { simulated: NZ },
  "metalpool-bmc/Attempts failed on power or a missing BMC (per hour)": { ...all(D), simulated: NZ },
  "metalpool-bmc/Releases without a power-off (per hour)": all(D),
  // Discovery.
  "metalpool-discovery/DHCP packets": all(NZ),
  "metalpool-discovery/Unknown PXE clients": { "operator-owned": NZ, "machine-controller": D, simulated: NZ },
  "metalpool-discovery/Hardware created (per hour)": { "operator-owned": NZ },
  // The unknown server's retries come after its Hardware: known by then, not duplicates.
  "metalpool-discovery/Rejections by reason (per minute)": {
    "operator-owned": D,
    "machine-controller": D,
    simulated: NZ,
  },
  "metalpool-discovery/Pending": { "operator-owned": NZ, "machine-controller": D, simulated: D },
  "metalpool-discovery/Pending cap": all(NZ),
  "metalpool-discovery/Pending vs cap": all(NZ),
  "metalpool-discovery/Discovered Hardware not approved (operator's view)": { "operator-owned": NZ },
  "metalpool-discovery/Kubernetes API latency (p95)": { "operator-owned": NZ, simulated: NZ },
  "metalpool-discovery/Kubernetes API errors": { simulated: NZ },
  "metalpool-discovery/Discovery memory": all(NZ),
  "metalpool-discovery/Discovery CPU": all(NZ),
};

export interface PanelTarget {
  expr: string;
  instant: boolean;
}
export interface DashboardPanel {
  /** `dashboard uid/panel title`, the key of PANEL_EXPECTATIONS. */
  key: string;
  targets: PanelTarget[];
}

interface DashboardJson {
  uid: string;
  panels: { type: string; title: string; targets?: { expr: string; instant?: boolean }[] }[];
  templating: { list: { name: string }[] };
}

const DIR = join(REPO_DIR, "charts/metalpool/files/dashboards");
const dashboards = (): DashboardJson[] =>
  readdirSync(DIR)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(join(DIR, f), "utf8")) as DashboardJson);

/** Every panel (rows aside) of every shipped dashboard, with its queries. */
export function dashboardPanels(): DashboardPanel[] {
  return dashboards().flatMap((d) =>
    d.panels
      .filter((p) => p.type !== "row")
      .map((p) => ({
        key: `${d.uid}/${p.title}`,
        targets: (p.targets ?? []).map((t) => ({ expr: t.expr, instant: t.instant === true })),
      })),
  );
}

/** The variables every dashboard declares (data source, namespace, pool): the ones `resolve` knows. */
export function dashboardVariables(): string[] {
  return [...new Set(dashboards().flatMap((d) => d.templating.list.map((v) => v.name)))].sort();
}

export interface Window {
  /** Unix seconds. */
  start: number;
  end: number;
}

/**
 * Grafana's step for a scenario's few minutes on a panel ~1000 pixels wide is its minimum interval: here
 * twice the scrape interval, so that increase() over $__interval holds two samples.
 */
const STEP_SECONDS = 2;
const SCRAPE_SECONDS = 1;

/**
 * An expression as Grafana sends it: the namespace variable set to the scenario's namespace, pool to All
 * (.*), $__interval the step, $__rate_interval Grafana's max(step + scrape interval, 4 × scrape interval),
 * $__range the window. The data source variable names the Prometheus the query goes to, never a query.
 * Any other variable left over is an error: a new variable must be taught here.
 */
export function resolve(expr: string, vars: { namespace: string }, window: Window): string {
  const resolved = expr
    .replaceAll("$namespace", vars.namespace)
    .replaceAll("$pool", ".*")
    .replaceAll("$__rate_interval", `${Math.max(STEP_SECONDS + SCRAPE_SECONDS, 4 * SCRAPE_SECONDS)}s`)
    .replaceAll("$__interval", `${STEP_SECONDS}s`)
    .replaceAll("$__range", `${Math.round(window.end - window.start)}s`);
  const left = /\$\{?\w+/.exec(resolved);
  if (left) throw new Error(`${expr}: no value for ${left[0]}`);
  return resolved;
}

export interface PanelResult {
  key: string;
  expr: string;
  /** What the panel would draw: "error: …", "no data", "zeros", or "nonzero". */
  shows: string;
}

/** One query as its panel sends it: instant at the window's end, or over the window; the values drawn. */
async function ask(prom: Prometheus, expr: string, instant: boolean, window: Window): Promise<string[]> {
  const res = instant
    ? await prom.query(expr, window.end)
    : await prom.queryRange(expr, window.start, window.end, STEP_SECONDS);
  if (res.status !== "success" || !res.data) throw new Error(res.error ?? res.status);
  return res.data.result.flatMap((s) => ("values" in s ? s.values.map((v) => v[1]) : [s.value[1]]));
}

/** What a panel would draw from these values. */
function shows(values: string[]): string {
  const numbers = values.map(Number).filter((n) => !Number.isNaN(n));
  if (numbers.length === 0) return "no data";
  return numbers.some((n) => n !== 0) ? "nonzero" : "zeros";
}

/** Asks Prometheus every query of every panel, as Grafana would over the window; one result per query. */
export async function askPanels(
  prom: Prometheus,
  vars: { namespace: string },
  window: Window,
): Promise<PanelResult[]> {
  const out: PanelResult[] = [];
  for (const panel of dashboardPanels())
    for (const target of panel.targets) {
      const expr = resolve(target.expr, vars, window);
      const result = await ask(prom, expr, target.instant, window).then(shows, (err: unknown) =>
        err instanceof Error ? `error: ${err.message}` : `error: ${String(err)}`,
      );
      out.push({ key: panel.key, expr, shows: result });
    }
  return out;
}

/**
 * The panels a scenario must show that it did not, as readable lines (empty when all is well): every
 * query of such a panel has data, and for "nonzero" some query of it shows a number that is not 0.
 */
export function missingPanels(results: PanelResult[], scenario: Scenario): string[] {
  const problems: string[] = [];
  const keys = [...new Set(results.map((r) => r.key))];
  for (const key of keys) {
    const want = PANEL_EXPECTATIONS[key]?.[scenario];
    if (!want) continue;
    const mine = results.filter((r) => r.key === key);
    for (const r of mine)
      if (r.shows !== "nonzero" && r.shows !== "zeros") problems.push(`${key}: ${r.expr} → ${r.shows}`);
    if (want === "nonzero" && !mine.some((r) => r.shows === "nonzero"))
      problems.push(`${key}: only zeros (${mine.map((r) => r.expr).join(" | ")})`);
  }
  return problems;
}

/**
 * The end of a scenario: waits until Prometheus has scraped every target since now, then asks every panel
 * over [start, now]. `missing` lists what the scenario must show and did not; `report` is every answer,
 * for the failure message.
 */
export async function checkScenario(
  prom: Prometheus,
  scenario: Scenario,
  namespace: string,
  start: number,
): Promise<{ missing: string[]; report: string }> {
  // Every target scraped after the scenario ended, and the window's last point after that scrape: a point
  // sees only samples at or before it, so ending the window before the scrape would miss the last changes.
  await prom.scrapedSince(Math.ceil(Date.now() / 1000));
  const end = Math.ceil(Date.now() / 1000);
  // A range query's points are start, start + step, …: the window starts a whole number of steps before
  // its end, so the last point is the end and what happened last is seen.
  const from = end - Math.ceil((end - start) / STEP_SECONDS) * STEP_SECONDS;
  const results = await askPanels(prom, { namespace }, { start: from, end });
  const lines = results.map((r) => `${r.shows}\t${r.key}\t${r.expr}`);
  return {
    missing: missingPanels(results, scenario),
    report: `${scenario}, ${results.length} queries over [${from}, ${end}]:\n${lines.join("\n")}`,
  };
}
