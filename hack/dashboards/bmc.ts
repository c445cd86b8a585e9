/** BMC health: are the servers' management controllers answering, accepting metalpool's credentials, and quick? */
import { POOL, bars, lines, single, type DashboardSpec } from "./common.ts";

const lastHour = (results: string): string =>
  `sum(increase(metalpool_bmc_requests_total{result=~"${results}"}[1h]))`;
const FAILED = "failed|server|client|protocol|unsupported";
const quantile = (q: number): string =>
  `histogram_quantile(${q}, sum by (le, operation) (rate(metalpool_bmc_request_duration_seconds_bucket[$__rate_interval])))`;

export const bmc: DashboardSpec = {
  uid: "metalpool-bmc",
  title: "metalpool / BMC health",
  description:
    "Requests metalpool makes of BMCs (power and inventory), by result, and what BMC trouble does to pools.",
  variables: ["namespace", "pool"],
  rows: [
    {
      title: "Requests",
      panels: [
        single({
          title: "Unreachable or timed out (1h)",
          description: "How many BMC requests found nobody answering (network, BMC hung, wrong address)?",
          queries: [{ expr: lastHour("unreachable|timeout") }],
          warnAt: 1,
          span: 6,
        }),
        single({
          title: "Credentials or certificate refused (1h)",
          description:
            "How many requests did a BMC refuse for the username/password or its TLS certificate? A person must fix these.",
          queries: [{ expr: lastHour("unauthorized|tls") }],
          warnAt: 1,
          span: 6,
        }),
        single({
          title: "Refused or failed by the BMC (1h)",
          description: "How many requests reached a BMC (or rufio) that failed or did not support them?",
          queries: [{ expr: lastHour(FAILED) }],
          warnAt: 1,
          span: 6,
        }),
        single({
          title: "Not configured usably (1h)",
          description:
            "How many requests never left because the BMC is not described usably (missing Secret, plain http refused)?",
          queries: [{ expr: lastHour("config") }],
          warnAt: 1,
          span: 6,
        }),
        bars({
          title: "Requests by operation and result (per hour)",
          description:
            "What does metalpool ask of BMCs (netboot, power-off, inventory, vouch), and how does it end?",
          queries: [
            {
              expr: "sum by (operation, result) (increase(metalpool_bmc_requests_total[1h])) > 0",
              legend: "{{operation}} {{result}}",
            },
          ],
        }),
        lines({
          title: "Failure ratio by operation (5m window)",
          description:
            "Which share of each kind of request fails (anything but success or a rufio Job still pending)?",
          queries: [
            {
              expr: 'sum by (operation) (rate(metalpool_bmc_requests_total{result!~"success|pending"}[5m])) / sum by (operation) (rate(metalpool_bmc_requests_total[5m]))',
              legend: "{{operation}}",
            },
          ],
          unit: "percentunit",
        }),
        lines({
          title: "Request latency",
          description: "How long do BMCs take to answer (Redfish retries within a request included)?",
          queries: [
            { expr: quantile(0.5), legend: "p50 {{operation}}" },
            { expr: quantile(0.95), legend: "p95 {{operation}}" },
          ],
          unit: "s",
        }),
        bars({
          title: "Failures by result (per hour)",
          description: "How do failing requests fail: unreachable, timeout, unauthorized, tls, server, …?",
          queries: [
            {
              expr: 'sum by (result) (increase(metalpool_bmc_requests_total{result!~"success|pending"}[1h])) > 0',
              legend: "{{result}}",
            },
          ],
        }),
      ],
    },
    {
      title: "Effect on pools",
      panels: [
        bars({
          title: "Attempts failed on power or a missing BMC (per hour)",
          description: "Which pools lose provisioning attempts to BMC trouble?",
          queries: [
            {
              expr: `sum by (namespace, pool, reason) (increase(metalpool_provisioning_attempts_total{${POOL}, result="failure", reason=~"power-failed|missing-bmc"}[1h]))`,
              legend: "{{namespace}}/{{pool}} {{reason}}",
            },
          ],
        }),
        bars({
          title: "Releases without a power-off (per hour)",
          description:
            "Which pools handed servers back still powered on because the BMC never took the power-off?",
          queries: [
            {
              expr: `sum by (namespace, pool) (increase(metalpool_releases_total{${POOL}, result="failure"}[1h]))`,
              legend: "{{namespace}}/{{pool}}",
            },
          ],
        }),
      ],
    },
  ],
};
