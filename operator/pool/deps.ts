/** What the reconciler needs from the outside world; injected, so the planner's inputs are all explicit. */
import type { BaremetalPoolSpec } from "../../lib/api/baremetalpool.ts";
import type { Hardware, Workflow } from "../../lib/api/tinkerbell.ts";
import type { EventType } from "../../lib/kube/events.ts";
import type { Informer } from "../../lib/kube/informer.ts";
import type { KubeClient } from "../../lib/kube/rest.ts";
import type { Logger } from "../../lib/log.ts";
import type { PowerControl } from "../provision/power.ts";
import type { ObservedPass, PoolObject } from "./types.ts";

/** Why a pool records an Event; each is also counted (metalpool_pool_events_total, from 0 for every pool). */
export const POOL_EVENT_REASONS = [
  "Claimed",
  "Provisioning",
  "ProvisioningFailed",
  "MachineDeploymentCreated",
  "Wiping",
  "Released",
  "PowerOffFailed",
  "Quarantined",
] as const;
export type PoolEventReason = (typeof POOL_EVENT_REASONS)[number];

export interface TargetCluster {
  client: KubeClient;
  namespace: string;
}

export interface ReconcilerDeps {
  client: KubeClient;
  hardware: Informer<Hardware>;
  workflows: Informer<Workflow>;
  /** The cluster and namespace where this pool's MachineDeployments live (throws when unreachable). */
  target(pool: PoolObject, spec: BaremetalPoolSpec): Promise<TargetCluster>;
  power(mode: BaremetalPoolSpec["provisioning"]["power"]): PowerControl;
  event(pool: PoolObject, type: EventType, reason: PoolEventReason, message: string): void;
  /** Told after every planned pass what became of each member, for metrics; must not throw. */
  observe?: (pass: ObservedPass) => void;
  now(): Date;
  log: Logger;
  /** Wait before the next attempt after a failed one: base × 2^(attempt-1). */
  retryBackoffMs: number;
  /** Whether this replica leads right now; checked right before every power and wipe action. */
  leading?: () => boolean;
  /** Hardware (by name, in a namespace) that MachineDeployments of pools other than `poolUID` name. */
  machineDeploymentHardware?: (namespace: string, poolUID: string) => Iterable<string>;
  /** bmc Machines (by name) in a namespace that a bmc Job rufio has not finished yet will act on. */
  busyBmcMachines?: (namespace: string) => Iterable<string>;
  /** Why a pool with this spec cannot act here (a kind the cluster does not serve), or undefined. */
  unavailable?: (spec: BaremetalPoolSpec) => string | undefined;
  /** Member actions applied at once within one pass. */
  concurrency?: number;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
