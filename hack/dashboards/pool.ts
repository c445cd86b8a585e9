/** Pool detail: one pool (or a few) in depth: its members, how long provisioning takes and where, and what fails. */
import { POOL, bars, buckets, gauges, lines, single, stacked, type DashboardSpec } from "./common.ts";

const members = (phase: string): string => `sum(metalpool_pool_members{${POOL}, phase=~"${phase}"})`;
const perHour = (metric: string, by: string, filter = ""): string =>
  `sum by (${by}) (increase(${metric}{${POOL}${filter}}[1h]))`;
const quantile = (q: number, window: string): string =>
  `histogram_quantile(${q}, sum by (le) (increase(metalpool_provisioning_duration_seconds_bucket{${POOL}}[${window}])))`;
const stageMean = (window: string): string =>
  `sum by (phase) (increase(metalpool_member_phase_duration_seconds_sum{${POOL}}[${window}])) / sum by (phase) (increase(metalpool_member_phase_duration_seconds_count{${POOL}}[${window}]))`;

export const pool: DashboardSpec = {
  uid: "metalpool-pool",
  title: "metalpool / Pool detail",
  description: "One pool in depth: members, provisioning time by stage, failures by reason.",
  variables: ["namespace", "pool"],
  rows: [
    {
      title: "Now",
      panels: [
        single({
          title: "Ready",
          description: "How many members are Ready nodes?",
          queries: [{ expr: members("Ready") }],
        }),
        single({
          title: "Desired",
          description: "How many servers does the pool ask for (spec.replicas)?",
          queries: [{ expr: `sum(metalpool_pool_desired_replicas{${POOL}})` }],
        }),
        single({
          title: "Provisioning",
          description: "How many members are on their way to Ready (Claimed or Provisioning)?",
          queries: [{ expr: members("Claimed|Provisioning") }],
        }),
        single({
          title: "Failed, awaiting retry",
          description: "How many members failed their last attempt and wait for the next?",
          queries: [{ expr: members("Failed") }],
          warnAt: 1,
        }),
        single({
          title: "Short of hardware",
          description: "How many servers does the pool want and cannot find? (kubectl describe bmp says why)",
          queries: [{ expr: `sum(metalpool_pool_shortage{${POOL}})` }],
          warnAt: 1,
        }),
        single({
          title: "Claim → Ready p50 (24h)",
          description: "How long does a server usually take from claim to Ready?",
          queries: [{ expr: quantile(0.5, "24h") }],
          unit: "s",
        }),
        stacked({
          title: "Members by phase",
          description: "What is each member doing, and how did that change?",
          queries: [{ expr: `sum by (phase) (metalpool_pool_members{${POOL}})`, legend: "{{phase}}" }],
          span: 24,
        }),
      ],
    },
    {
      title: "Provisioning time",
      panels: [
        buckets({
          title: "Claim → Ready (heatmap)",
          description: "How are provisioning times spread? A second band or a drift upwards is worth a look.",
          queries: [
            {
              // $__rate_interval, one scrape longer than a point's interval: windows of exactly $__interval
              // (left-open in Prometheus 3) lose an observation that falls between two of them.
              expr: `sum by (le) (increase(metalpool_provisioning_duration_seconds_bucket{${POOL}}[$__rate_interval]))`,
              legend: "{{le}}",
              format: "heatmap",
            },
          ],
          unit: "s",
        }),
        lines({
          title: "Claim → Ready (1h window)",
          description: "Is provisioning getting slower? Median, 90th percentile and mean of the last hour.",
          queries: [
            { expr: quantile(0.5, "1h"), legend: "p50" },
            { expr: quantile(0.9, "1h"), legend: "p90" },
            {
              expr: `sum(increase(metalpool_provisioning_duration_seconds_sum{${POOL}}[1h])) / sum(increase(metalpool_provisioning_duration_seconds_count{${POOL}}[1h]))`,
              legend: "mean",
            },
          ],
          unit: "s",
        }),
        gauges({
          title: "Mean time per stage (dashboard range)",
          description:
            "Where does the time go? Claimed: waiting to start (slots, preconditions); Provisioning: one attempt; Failed: retry backoff; Deprovisioning: wipe, power-off, release.",
          queries: [{ expr: stageMean("$__range"), legend: "{{phase}}", instant: true }],
          unit: "s",
        }),
        stacked({
          title: "Mean time per stage (1h window)",
          description: "Which stage grew when provisioning got slower?",
          queries: [{ expr: stageMean("1h"), legend: "{{phase}}" }],
          unit: "s",
        }),
      ],
    },
    {
      title: "Outcomes",
      panels: [
        bars({
          title: "Attempts by result (per hour)",
          description: "How many attempts end, and how many of them succeed?",
          queries: [
            { expr: perHour("metalpool_provisioning_attempts_total", "result"), legend: "{{result}}" },
          ],
          span: 8,
        }),
        bars({
          title: "Failed attempts by reason (per hour)",
          description: "Why do attempts fail: timeout, workflow-failed, missing-bmc, power-failed or other?",
          queries: [
            {
              expr: perHour("metalpool_provisioning_attempts_total", "reason", ', result="failure"'),
              legend: "{{reason}}",
            },
          ],
          span: 8,
        }),
        bars({
          title: "Retried attempts by result (per hour)",
          description: "Do retries rescue servers, or only delay their quarantine?",
          queries: [
            { expr: perHour("metalpool_provisioning_retries_total", "result"), legend: "{{result}}" },
          ],
          span: 8,
        }),
        bars({
          title: "Quarantines, wipes and releases (per hour)",
          description:
            "How do servers leave the pool: quarantined (why), wiped (did it work), released (was it powered off)?",
          queries: [
            { expr: perHour("metalpool_quarantines_total", "reason"), legend: "quarantined: {{reason}}" },
            { expr: perHour("metalpool_wipes_total", "result"), legend: "wipe: {{result}}" },
            { expr: perHour("metalpool_releases_total", "result"), legend: "released: {{result}}" },
          ],
        }),
        bars({
          title: "Pool events (per hour)",
          description:
            "What did the pool do (the same reasons as its Kubernetes Events: Claimed, Provisioning, ProvisioningFailed, …)?",
          queries: [{ expr: perHour("metalpool_pool_events_total", "reason"), legend: "{{reason}}" }],
        }),
      ],
    },
  ],
};
