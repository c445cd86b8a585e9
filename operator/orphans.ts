/**
 * Collecting what no live claim explains. A Workflow, bmc Job or MachineDeployment metalpool made carries its
 * pool's UID and its Hardware's name; it is explained only while that pool exists and that Hardware is
 * claimed by it. Anything else (a person deleted the claimed Hardware, removed its claim mid-wipe, or force-removed a
 * pool's finalizer) could later boot, provision or wipe a server that is free or another pool's, so it is
 * deleted. The caches pick candidates; each is confirmed on fresh reads and deleted with a uid precondition.
 */
import { POOL, type BaremetalPoolSpec } from "../lib/api/baremetalpool.ts";
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import { HARDWARE, type BmcJob } from "../lib/api/tinkerbell.ts";
import { jobOutcome } from "../lib/bmc/power-job.ts";
import { isNotFound, type KubeClient, type KubeObject, type ResourceType } from "../lib/kube/rest.ts";

/** Who an object metalpool made belongs to, from its labels; undefined when it is not ours. */
export interface Ownership {
  poolUID: string;
  poolNamespace: string;
  poolName: string;
  hardwareNamespace: string;
  hardware: string;
}

export function ownershipOf(o: KubeObject): Ownership | undefined {
  const labels = o.metadata.labels ?? {};
  const poolUID = labels[LABEL.poolUID];
  const hardware = labels[LABEL.hardware];
  const poolName = labels[LABEL.pool];
  if (!poolUID || !hardware || !poolName) return undefined;
  // Workflows live beside their Hardware and pool; MachineDeployments name the pool's namespace.
  const poolNamespace = o.metadata.annotations?.[ANNOTATION.poolNamespace] ?? o.metadata.namespace ?? "";
  return { poolUID, poolNamespace, poolName, hardwareNamespace: poolNamespace, hardware };
}

/** The cached facts a sweep decides on: live pools by UID, and each Hardware's claim. */
export interface ClaimView {
  poolExists(uid: string): boolean;
  claimOf(namespace: string, hardware: string): string | undefined;
  /** The pool UID that quarantined a Hardware still quarantined; undefined otherwise. */
  quarantinedBy?(namespace: string, hardware: string): string | undefined;
}

/** The pool that quarantined `hw`, while it is quarantined (a person clears the label to let it go). */
export function quarantinedBy(hw: KubeObject | null | undefined): string | undefined {
  if (hw?.metadata.labels?.[LABEL.quarantined] !== "true") return undefined;
  return hw.metadata.annotations?.[ANNOTATION.quarantinedBy];
}

/**
 * A pending power-off Job made by the pool that then quarantined the server: quarantine drops the claim at
 * once (the server must not wait for its BMC to leave the pool), and this Job is what powers it off. No pool
 * can claim a quarantined server, so powering it off acts on nobody's server; once the Job has run it is
 * collected like any other.
 */
function quarantinePowerOff(o: KubeObject, own: Ownership, by: string | undefined): boolean {
  if (o.kind !== "Job" || by !== own.poolUID) return false;
  const job = o as BmcJob;
  const tasks = job.spec?.tasks ?? [];
  return (
    tasks.length > 0 && tasks.every((t) => t.powerAction === "off") && jobOutcome(job).state === "pending"
  );
}

/** Pure: the objects whose ownership the cached view does not explain (candidates, to be confirmed). */
export function unexplained<T extends KubeObject>(objects: readonly T[], view: ClaimView): T[] {
  return objects.filter((o) => {
    const own = ownershipOf(o);
    if (!own || o.metadata.deletionTimestamp) return false;
    if (quarantinePowerOff(o, own, view.quarantinedBy?.(own.hardwareNamespace, own.hardware))) return false;
    return !view.poolExists(own.poolUID) || view.claimOf(own.hardwareNamespace, own.hardware) !== own.poolUID;
  });
}

/**
 * Pure: a remote cluster's MachineDeployments to collect. Only pool UIDs this operator knows as its own
 * (`ours`: live pools, and pools it saw point at that cluster) are judged, so a MachineDeployment another
 * management cluster's metalpool made in a shared cluster is never touched.
 */
export function unexplainedRemote<T extends KubeObject>(
  objects: readonly T[],
  view: ClaimView,
  ours: ReadonlySet<string>,
): T[] {
  return unexplained(objects, view).filter((o) => ours.has(ownershipOf(o)?.poolUID ?? ""));
}

/** Where a pool puts its MachineDeployments when that is another cluster: one key per Secret and namespace. */
export function remoteTargetKey(pool: KubeObject, spec: BaremetalPoolSpec): string | undefined {
  const ref = spec.template.cluster.kubeconfigSecretRef;
  if (!ref) return undefined;
  const poolNs = pool.metadata.namespace ?? "default";
  return `${ref.namespace ?? poolNs}/${ref.name}/${ref.key}|${spec.template.cluster.namespace ?? poolNs}`;
}

/**
 * Pure: Hardware still labelled as claimed by a pool the cached view does not know (candidates, to be
 * confirmed). Nothing is released or wiped automatically: what is on the disk is not known, and the label
 * keeps every other pool away until a person decides (see README, Safety).
 */
export function orphanedClaims<T extends KubeObject>(hardware: readonly T[], view: ClaimView): T[] {
  return hardware.filter((hw) => {
    const uid = hw.metadata.labels?.[LABEL.poolUID];
    return Boolean(uid) && !view.poolExists(uid ?? "");
  });
}

/** Confirms on fresh reads that `hw` is still claimed by a pool UID no pool has; the fresh Hardware, or undefined. */
export async function confirmOrphanedClaim<T extends KubeObject>(
  client: KubeClient,
  hw: T,
): Promise<T | undefined> {
  const fresh = await client.getOrNull<T>(HARDWARE, hw.metadata.namespace, hw.metadata.name ?? "");
  const uid = fresh?.metadata.labels?.[LABEL.poolUID];
  if (!fresh || !uid) return undefined;
  const poolNamespace = fresh.metadata.annotations?.[ANNOTATION.poolNamespace] ?? fresh.metadata.namespace;
  const poolName = fresh.metadata.labels?.[LABEL.pool];
  const pool = poolName ? await client.getOrNull(POOL, poolNamespace, poolName) : null;
  return pool?.metadata.uid === uid ? undefined : fresh;
}

/**
 * Pure: the bmc Machines (by name) in `namespace` that a bmc Job rufio has not finished yet will act on,
 * whoever made it. A server behind one of them is not claimed: the Job could power-cycle it mid-provisioning.
 * (metalpool's own power-off Jobs finish before the claim is dropped; a pending one left by quarantine or
 * by a power-off given up is collected once no claim explains it.)
 */
export function pendingJobMachines(jobs: readonly BmcJob[], namespace: string): string[] {
  return jobs
    .filter((j) => j.spec?.machineRef?.name && jobOutcome(j).state === "pending")
    .filter((j) => (j.spec.machineRef.namespace || j.metadata.namespace) === namespace)
    .map((j) => j.spec.machineRef.name);
}

/**
 * Confirms on fresh reads (pool and Hardware, through `client`) that nothing explains `o`, then deletes
 * exactly that object through `where` (another cluster's client for a remote MachineDeployment); true when
 * deleted.
 */
export async function collectIfOrphaned(
  client: KubeClient,
  type: ResourceType,
  o: KubeObject,
  where: KubeClient = client,
): Promise<boolean> {
  const own = ownershipOf(o);
  if (!own) return false;
  const hw = await client.getOrNull(HARDWARE, own.hardwareNamespace, own.hardware);
  if (quarantinePowerOff(o, own, quarantinedBy(hw))) return false;
  const pool = await client.getOrNull(POOL, own.poolNamespace, own.poolName);
  if (pool?.metadata.uid === own.poolUID && hw?.metadata.labels?.[LABEL.poolUID] === own.poolUID)
    return false;
  try {
    await where.delete(type, o.metadata.namespace, o.metadata.name ?? "", {
      ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
    });
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  return true;
}
