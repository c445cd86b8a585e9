import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { registerStandardMetrics } from "../lib/metrics.ts";
import { REJECT_REASONS, type RejectReason } from "./admit.ts";

export class DiscoveryMetrics {
  readonly registry = new Registry();
  readonly packets = new Counter({
    name: "metalpool_discovery_packets_total",
    help: "DHCP packets received.",
    registers: [this.registry],
  });
  readonly parsed = new Counter({
    name: "metalpool_discovery_packets_parsed_total",
    help: "DHCP packets that decoded cleanly.",
    registers: [this.registry],
  });
  readonly malformed = new Counter({
    name: "metalpool_discovery_packets_malformed_total",
    help: "Packets that were not valid DHCP.",
    registers: [this.registry],
  });
  readonly discoveries = new Counter({
    name: "metalpool_discovery_unknown_clients_total",
    help: "PXE requests from MACs no Hardware knows (retries included).",
    registers: [this.registry],
  });
  readonly created = new Counter({
    name: "metalpool_discovery_hardware_created_total",
    help: "Hardware objects created.",
    labelNames: ["approval"],
    registers: [this.registry],
  });
  private readonly rejections = new Counter({
    name: "metalpool_discovery_rejections_total",
    help: "Clients not turned into Hardware, by reason.",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  private pendingNow: () => number = () => 0;
  readonly pending: Gauge = new Gauge({
    name: "metalpool_discovery_pending_hardware",
    help: "Pending (unapproved) Hardware seen within pendingExpiry: what counts against maxPending.",
    registers: [this.registry],
    collect: (): void => this.pending.set(this.pendingNow()),
  });
  readonly pendingDeleted = new Counter({
    name: "metalpool_discovery_pending_deleted_total",
    help: "Expired pending Hardware deleted (limits.deleteExpiredPending).",
    registers: [this.registry],
  });
  readonly apiSeconds = new Histogram({
    name: "metalpool_discovery_api_request_duration_seconds",
    help: "Kubernetes API calls made by discovery.",
    labelNames: ["verb", "result"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly pendingCap = new Gauge({
    name: "metalpool_discovery_pending_cap",
    help: "limits.maxPending: pending Hardware beyond it is refused (reason pending-cap).",
    registers: [this.registry],
  });
  readonly discoverToHardware = new Histogram({
    name: "metalpool_discovery_discover_to_hardware_seconds",
    help: "From a new client's packet arriving at the socket to its Hardware created (queue wait included).",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor() {
    registerStandardMetrics(this.registry);
    // Every reason is exported from the start, so rate() and alerts see a 0 before the first rejection.
    for (const reason of REJECT_REASONS) this.rejections.inc({ reason }, 0);
    // And creations and every API call's histogram: the first create (or the first failed one) is then
    // an increase too.
    for (const approval of ["approved", "pending"]) this.created.inc({ approval }, 0);
    for (const verb of ["create", "patch"])
      for (const result of ["ok", "error"]) this.apiSeconds.zero({ verb, result });
  }

  /** Where the pending gauge reads its value when scraped. */
  countPending(active: () => number): void {
    this.pendingNow = active;
  }

  rejected(reason: RejectReason): void {
    this.rejections.inc({ reason });
  }
}
