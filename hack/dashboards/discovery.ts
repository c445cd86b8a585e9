/** Discovery: DHCP traffic seen on the provisioning network, what became Hardware, what was turned away, and why. */
import { NS, bars, lines, single, stacked, type DashboardSpec } from "./common.ts";

const rate = (metric: string): string => `sum(rate(${metric}[$__rate_interval]))`;
const discoveryOnly = "and on (job, instance) metalpool_discovery_packets_total";

export const discovery: DashboardSpec = {
  uid: "metalpool-discovery",
  title: "metalpool / Discovery",
  description: "metalpool-discovery: DHCP packets, new Hardware, rejections and the pending cap.",
  variables: ["namespace"],
  namespacesFrom: "metalpool_hardware",
  rows: [
    {
      title: "Traffic",
      panels: [
        lines({
          title: "DHCP packets",
          description: "Does discovery hear the provisioning network, and is what it hears DHCP?",
          queries: [
            { expr: rate("metalpool_discovery_packets_total"), legend: "received" },
            { expr: rate("metalpool_discovery_packets_parsed_total"), legend: "parsed" },
            { expr: rate("metalpool_discovery_packets_malformed_total"), legend: "malformed" },
          ],
          unit: "pps",
        }),
        lines({
          title: "Unknown PXE clients",
          description: "How often does a server no Hardware knows ask to PXE boot (retries included)?",
          queries: [{ expr: rate("metalpool_discovery_unknown_clients_total"), legend: "unknown clients" }],
          unit: "reqps",
        }),
        bars({
          title: "Hardware created (per hour)",
          description: "How many servers became Hardware, auto-approved or pending a person?",
          queries: [
            {
              expr: "sum by (approval) (increase(metalpool_discovery_hardware_created_total[1h]))",
              legend: "{{approval}}",
            },
          ],
        }),
        bars({
          title: "Rejections by reason (per minute)",
          description:
            "Which clients were not turned into Hardware, and why (duplicate retries are normal; relay, rate-limit or pending-cap rejections are not)?",
          queries: [
            {
              expr: "sum by (reason) (rate(metalpool_discovery_rejections_total[$__rate_interval])) * 60",
              legend: "{{reason}}",
            },
          ],
        }),
      ],
    },
    {
      title: "Waiting for approval",
      panels: [
        single({
          title: "Pending",
          description: "How many discovered servers count against the pending cap now?",
          queries: [{ expr: "max(metalpool_discovery_pending_hardware)" }],
        }),
        single({
          title: "Pending cap",
          description: "At this many pending servers discovery creates no more (limits.maxPending).",
          queries: [{ expr: "max(metalpool_discovery_pending_cap)" }],
        }),
        lines({
          title: "Pending vs cap",
          description:
            "Is discovery close to its pending cap? At the cap new servers are turned away until someone approves.",
          queries: [
            { expr: "max(metalpool_discovery_pending_hardware)", legend: "pending" },
            { expr: "max(metalpool_discovery_pending_cap)", legend: "cap" },
          ],
          span: 16,
        }),
        stacked({
          title: "Discovered Hardware not approved (operator's view)",
          description: "Which namespaces hold discovered servers nobody approved yet?",
          queries: [
            {
              expr: `sum by (namespace, state) (metalpool_hardware{${NS}, state=~"discovered-pending|unapproved"})`,
              legend: "{{namespace}} {{state}}",
            },
          ],
          span: 24,
        }),
      ],
    },
    {
      title: "Health",
      panels: [
        lines({
          title: "Kubernetes API latency (p95)",
          description: "Are Hardware creates and last-seen patches fast?",
          queries: [
            {
              expr: "histogram_quantile(0.95, sum by (le, verb) (rate(metalpool_discovery_api_request_duration_seconds_bucket[$__rate_interval])))",
              legend: "{{verb}}",
            },
          ],
          unit: "s",
        }),
        lines({
          title: "Kubernetes API errors",
          description: "Do discovery's API calls fail (RBAC, quota, API server down)?",
          queries: [
            {
              expr: 'sum by (verb) (rate(metalpool_discovery_api_request_duration_seconds_count{result="error"}[$__rate_interval]))',
              legend: "{{verb}}",
            },
          ],
          unit: "reqps",
        }),
        lines({
          title: "Discovery memory",
          description: "Is discovery's memory stable under a flood?",
          queries: [{ expr: `process_resident_memory_bytes ${discoveryOnly}`, legend: "{{instance}}" }],
          unit: "bytes",
        }),
        lines({
          title: "Discovery CPU",
          description: "How busy is discovery?",
          queries: [
            {
              expr: `rate(process_cpu_seconds_total[$__rate_interval]) ${discoveryOnly}`,
              legend: "{{instance}}",
            },
          ],
          unit: "percentunit",
        }),
      ],
    },
  ],
};
