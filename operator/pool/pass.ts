/**
 * Everything one reconcile pass of one pool works with: the dependencies, the pool, its parsed spec and
 * its target cluster. Step modules take a Pass instead of a long parameter list.
 */
import type { BaremetalPoolSpec } from "../../lib/api/baremetalpool.ts";
import type { Hardware, Template, Workflow } from "../../lib/api/tinkerbell.ts";
import type { EventType } from "../../lib/kube/events.ts";
import type { Informer } from "../../lib/kube/informer.ts";
import { isAlreadyExists, type KubeClient, type ResourceType } from "../../lib/kube/rest.ts";
import type { Logger } from "../../lib/log.ts";
import type { PoolRef } from "../provision/machine-deployment.ts";
import type { PowerControl } from "../provision/power.ts";
import type { MemberView, PoolObject } from "./types.ts";

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
  event(pool: PoolObject, type: EventType, reason: string, message: string): void;
  observe?: (pool: PoolObject, members: MemberView[]) => void;
  now(): Date;
  log: Logger;
  /** Wait before the next attempt after a failed one: base × 2^(attempt-1). */
  retryBackoffMs: number;
}

export interface Pass {
  d: ReconcilerDeps;
  pool: PoolObject;
  ref: PoolRef;
  spec: BaremetalPoolSpec;
  target: TargetCluster;
}

/** Creates an object, or returns the existing one of that name: every create is safe to repeat. */
export async function ensureObject<T extends Workflow | Template>(
  client: KubeClient,
  type: ResourceType,
  obj: T,
): Promise<T> {
  try {
    return await client.create(type, obj);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    return client.get<T>(type, obj.metadata.namespace, obj.metadata.name ?? "");
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
