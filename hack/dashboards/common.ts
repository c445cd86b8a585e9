/**
 * The pieces every metalpool dashboard is built from, on @grafana/grafana-foundation-sdk: the data source,
 * namespace and pool variables, and panel helpers that take what a panel answers (its description), its
 * PromQL and its unit. Every panel queries the dashboard's `${datasource}`, so one import works on any
 * Grafana whatever its Prometheus is called.
 */
import * as bargauge from "@grafana/grafana-foundation-sdk/bargauge";
import * as common from "@grafana/grafana-foundation-sdk/common";
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as heatmap from "@grafana/grafana-foundation-sdk/heatmap";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";

export const datasource: common.DataSourceRef = { type: "prometheus", uid: "${datasource}" };

/** Label matchers for the selected namespaces and pools (multi-value variables become regexes). */
export const NS = 'namespace=~"$namespace"';
export const POOL = 'namespace=~"$namespace", pool=~"$pool"';

export interface Query {
  expr: string;
  legend?: string;
  /** One value per series at the end of the range (stat and bar gauge panels). */
  instant?: boolean;
  format?: "heatmap";
}

export interface PanelSpec {
  title: string;
  /** The question the panel answers, shown as its tooltip (and summed up in the README). */
  description: string;
  queries: Query[];
  unit?: string;
  /** Width in grid columns (24 = full) and height in grid rows. */
  span?: number;
  height?: number;
}

function target(q: Query, i: number): prometheus.DataqueryBuilder {
  const b = new prometheus.DataqueryBuilder()
    .datasource(datasource)
    .refId(String.fromCharCode(65 + i))
    .expr(q.expr)
    .legendFormat(q.legend ?? "__auto");
  if (q.instant) b.instant();
  else b.range();
  if (q.format === "heatmap") b.format(prometheus.PromQueryFormat.Heatmap);
  return b;
}

type Panel = cog.Builder<dashboard.Panel>;

/** Applies what every panel kind shares (they have the same builder methods, but no common type). */
function basics<
  B extends {
    title(t: string): B;
    description(d: string): B;
    datasource(d: common.DataSourceRef): B;
    withTarget(t: cog.Builder<cog.Dataquery>): B;
    span(w: number): B;
    height(h: number): B;
    unit(u: string): B;
  },
>(b: B, p: PanelSpec, span: number, height: number): B {
  b.title(p.title)
    .description(p.description)
    .datasource(datasource)
    .span(p.span ?? span)
    .height(p.height ?? height);
  if (p.unit) b.unit(p.unit);
  p.queries.forEach((q, i) => b.withTarget(target(q, i)));
  return b;
}

const legend = (): common.VizLegendOptionsBuilder =>
  new common.VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(common.LegendDisplayMode.List)
    .placement(common.LegendPlacement.Bottom);

/** Lines over time. */
export function lines(p: PanelSpec): Panel {
  return basics(new timeseries.PanelBuilder(), p, 12, 8).fillOpacity(10).legend(legend()).min(0);
}

/** Stacked areas over time: parts of a whole (servers by state, members by phase). */
export function stacked(p: PanelSpec): Panel {
  return basics(new timeseries.PanelBuilder(), p, 12, 8)
    .fillOpacity(60)
    .lineWidth(1)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
    .legend(legend())
    .min(0);
}

/** Counts per interval as bars (events that happen now and then: failures, quarantines). */
export function bars(p: PanelSpec): Panel {
  return basics(new timeseries.PanelBuilder(), p, 12, 8)
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(80)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
    .legend(legend())
    .min(0);
}

/** One big number; `warnAt` colours it (e.g. any quarantined server is worth a look). */
export function single(p: PanelSpec & { warnAt?: number }): Panel {
  const steps: dashboard.Threshold[] = [{ value: null, color: "green" }];
  if (p.warnAt !== undefined) steps.push({ value: p.warnAt, color: "orange" });
  return basics(new stat.PanelBuilder(), p, 4, 4)
    .graphMode(common.BigValueGraphMode.Area)
    .colorMode(common.BigValueColorMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .thresholds(new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps));
}

/** One bar per series at the end of the range (per pool, per stage). */
export function gauges(p: PanelSpec & { max?: number }): Panel {
  const b = basics(new bargauge.PanelBuilder(), p, 12, 8)
    .displayMode(common.BarGaugeDisplayMode.Gradient)
    .orientation(common.VizOrientation.Horizontal)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .min(0);
  if (p.max !== undefined) b.max(p.max);
  return b;
}

/** A Prometheus histogram as a heatmap: how many observations fell in each bucket per interval. */
export function buckets(p: PanelSpec): Panel {
  return basics(new heatmap.PanelBuilder(), p, 12, 8)
    .calculate(false)
    .color(
      new heatmap.HeatmapColorOptionsBuilder()
        .mode(heatmap.HeatmapColorMode.Scheme)
        .scheme("Oranges")
        .scale(heatmap.HeatmapColorScale.Exponential)
        .exponent(0.5),
    )
    .yAxis(new heatmap.YAxisConfigBuilder().unit(p.unit ?? "s"))
    .cellValues(new heatmap.CellValuesBuilder().unit("short"))
    .showLegend();
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  /** Which selectors it offers besides the data source. */
  variables: ("namespace" | "pool")[];
  /** Where namespace values come from (a metric with a namespace label the dashboard is about). */
  namespacesFrom?: string;
  rows: { title: string; panels: Panel[] }[];
}

function variables(spec: DashboardSpec): cog.Builder<dashboard.VariableModel>[] {
  const vars: cog.Builder<dashboard.VariableModel>[] = [
    new dashboard.DatasourceVariableBuilder("datasource").label("Data source").type("prometheus"),
  ];
  const multi = (name: string, label: string, query: string): dashboard.QueryVariableBuilder =>
    new dashboard.QueryVariableBuilder(name)
      .label(label)
      .datasource(datasource)
      .query(query)
      .definition(query)
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      .allValue(".*")
      .current({ text: "All", value: "$__all" });
  if (spec.variables.includes("namespace"))
    vars.push(
      multi(
        "namespace",
        "Namespace",
        `label_values(${spec.namespacesFrom ?? "metalpool_pool_desired_replicas"}, namespace)`,
      ),
    );
  if (spec.variables.includes("pool"))
    vars.push(
      multi("pool", "Pool", 'label_values(metalpool_pool_desired_replicas{namespace=~"$namespace"}, pool)'),
    );
  return vars;
}

export function build(spec: DashboardSpec): dashboard.Dashboard {
  const b = new dashboard.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(["metalpool"])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .refresh("1m")
    .time({ from: "now-24h", to: "now" })
    .timezone("browser")
    .variables(variables(spec));
  for (const row of spec.rows) {
    b.withRow(new dashboard.RowBuilder(row.title));
    for (const panel of row.panels) b.withPanel(panel);
  }
  const built = b.build();
  // Stable ids (the builder leaves them unset, rows at 0), so links to a panel (viewPanel=…) keep working.
  (built.panels ?? []).forEach((panel, i) => (panel.id = i + 1));
  return built;
}
