/** Fleet overview: the wall screen. Where every server is, which pools lack what, and whether the operator is well. */
import { NS, bars, gauges, lines, single, stacked, type DashboardSpec } from "./common.ts";

const servers = (state: string): string => `sum(metalpool_hardware{${NS}, state=~"${state}"})`;
const operatorOnly = "and on (job, instance) metalpool_leader";

export const fleet: DashboardSpec = {
  uid: "metalpool-fleet",
  title: "metalpool / Fleet overview",
  description: "Every server metalpool knows, every pool, and the operator itself.",
  variables: ["namespace"],
  namespacesFrom: "metalpool_hardware",
  rows: [
    {
      title: "Servers",
      panels: [
        single({
          title: "Free and eligible",
          description: "How many servers could a pool claim right now (free, approved, provisionable)?",
          queries: [{ expr: servers("free-eligible") }],
        }),
        single({
          title: "Provisioning",
          description:
            "How many claimed servers are not in service yet (waiting, provisioning, or failed and about to retry)?",
          queries: [{ expr: servers("provisioning") }],
        }),
        single({
          title: "In service",
          description: "How many servers are claimed and Ready (or being handed back)?",
          queries: [{ expr: servers("claimed") }],
        }),
        single({
          title: "Quarantined",
          description: "How many servers did metalpool take out of service? Each needs a person.",
          queries: [{ expr: servers("quarantined") }],
          warnAt: 1,
        }),
        single({
          title: "Awaiting approval",
          description: "How many discovered servers wait for a person to approve them?",
          queries: [{ expr: servers("discovered-pending|unapproved") }],
          warnAt: 1,
        }),
        single({
          title: "Pools short of hardware",
          description: "How many pools want servers they cannot find?",
          queries: [{ expr: `sum(metalpool_pool_shortage{${NS}} > bool 0)` }],
          warnAt: 1,
        }),
        stacked({
          title: "Servers by state",
          description:
            "Where is every server, and how did that change? (free-unprovisionable: missing MAC, IP or disk, or a leftover metadata.state)",
          queries: [{ expr: `sum by (state) (metalpool_hardware{${NS}})`, legend: "{{state}}" }],
          span: 24,
        }),
      ],
    },
    {
      title: "Pools",
      panels: [
        gauges({
          title: "Ready / desired per pool",
          description: "Which pools have all the servers they asked for?",
          queries: [
            {
              expr: `sum by (namespace, pool) (metalpool_pool_members{${NS}, phase="Ready"}) / clamp_min(sum by (namespace, pool) (metalpool_pool_desired_replicas{${NS}}), 1)`,
              legend: "{{namespace}}/{{pool}}",
              instant: true,
            },
          ],
          unit: "percentunit",
          max: 1,
        }),
        lines({
          title: "Servers short per pool",
          description: "Which pools are stuck short of hardware, and for how long?",
          queries: [
            {
              expr: `sum by (namespace, pool) (metalpool_pool_shortage{${NS}})`,
              legend: "{{namespace}}/{{pool}}",
            },
          ],
        }),
        lines({
          title: "Claim → Ready, all pools (1h window)",
          description: "How long does it take to turn a free server into a Ready node, retries included?",
          queries: [
            {
              expr: `histogram_quantile(0.5, sum by (le) (increase(metalpool_provisioning_duration_seconds_bucket{${NS}}[1h])))`,
              legend: "p50",
            },
            {
              expr: `histogram_quantile(0.9, sum by (le) (increase(metalpool_provisioning_duration_seconds_bucket{${NS}}[1h])))`,
              legend: "p90",
            },
          ],
          unit: "s",
        }),
        lines({
          title: "Attempt success ratio (1h window)",
          description: "What share of provisioning attempts end with a Ready server?",
          queries: [
            {
              expr: `sum(increase(metalpool_provisioning_attempts_total{${NS}, result="success"}[1h])) / sum(increase(metalpool_provisioning_attempts_total{${NS}}[1h]))`,
              legend: "success ratio",
            },
          ],
          unit: "percentunit",
        }),
        bars({
          title: "Failed attempts by reason (per hour)",
          description: "Why do attempts fail: timeout, workflow-failed, missing-bmc, power-failed or other?",
          queries: [
            {
              expr: `sum by (reason) (increase(metalpool_provisioning_attempts_total{${NS}, result="failure"}[1h]))`,
              legend: "{{reason}}",
            },
          ],
        }),
        bars({
          title: "Quarantines and releases (per hour)",
          description:
            "How many servers leave pools, and how: quarantined (by reason) or released (by result)?",
          queries: [
            {
              expr: `sum by (reason) (increase(metalpool_quarantines_total{${NS}}[1h]))`,
              legend: "quarantined: {{reason}}",
            },
            {
              expr: `sum by (result) (increase(metalpool_releases_total{${NS}}[1h]))`,
              legend: "released: {{result}}",
            },
          ],
        }),
      ],
    },
    {
      title: "Operator",
      panels: [
        single({
          title: "Leader",
          description: "Does a replica hold the leader Lease (1) or is nobody acting (0)?",
          queries: [{ expr: "max(metalpool_leader)" }],
        }),
        single({
          title: "Leader changes (1h)",
          description:
            "How often did leadership change hands in the last hour? More than a few means crashes or a flaky API server.",
          queries: [
            {
              expr: "max(max_over_time(metalpool_leader_lease_transitions[1h])) - min(min_over_time(metalpool_leader_lease_transitions[1h]))",
            },
          ],
          warnAt: 3,
        }),
        single({
          title: "Work queue",
          description: "How many pools wait to be reconciled? It should be near 0.",
          queries: [{ expr: "max(metalpool_workqueue_depth)" }],
        }),
        single({
          title: "Versions",
          description: "Which metalpool release does each process run (count per version)?",
          queries: [
            { expr: "count by (version) (metalpool_build_info)", legend: "{{version}}", instant: true },
          ],
          span: 12,
        }),
        lines({
          title: "Reconcile latency",
          description: "How long does one pool pass take?",
          queries: [
            {
              expr: "histogram_quantile(0.5, sum by (le) (rate(metalpool_reconcile_duration_seconds_bucket[$__rate_interval])))",
              legend: "p50",
            },
            {
              expr: "histogram_quantile(0.95, sum by (le) (rate(metalpool_reconcile_duration_seconds_bucket[$__rate_interval])))",
              legend: "p95",
            },
          ],
          unit: "s",
          span: 8,
        }),
        lines({
          title: "Reconciles by result",
          description:
            "Do pool passes succeed? Errors retry with backoff; steady errors show in pools' Degraded condition.",
          queries: [
            {
              expr: "sum by (result) (rate(metalpool_reconcile_total[$__rate_interval]))",
              legend: "{{result}}",
            },
          ],
          unit: "ops",
          span: 8,
        }),
        lines({
          title: "Operator memory",
          description: "Is the operator's memory stable (resident set and JS heap per replica)?",
          queries: [
            { expr: `process_resident_memory_bytes ${operatorOnly}`, legend: "rss {{instance}}" },
            { expr: `nodejs_heap_size_used_bytes ${operatorOnly}`, legend: "heap {{instance}}" },
          ],
          unit: "bytes",
          span: 8,
        }),
        lines({
          title: "Operator CPU",
          description: "How much CPU does each operator replica use?",
          queries: [
            {
              expr: `rate(process_cpu_seconds_total[$__rate_interval]) ${operatorOnly}`,
              legend: "{{instance}}",
            },
          ],
          unit: "percentunit",
        }),
        lines({
          title: "Event loop lag (p99)",
          description: "Is the operator's event loop blocked (slow to react to anything)?",
          queries: [{ expr: `nodejs_eventloop_lag_p99_seconds ${operatorOnly}`, legend: "{{instance}}" }],
          unit: "s",
        }),
      ],
    },
  ],
};
