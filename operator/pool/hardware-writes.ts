/**
 * Every write metalpool makes to a Hardware: claim, mark for release, release, quarantine. Each is a
 * resourceVersion-guarded update, so two pools or two operator instances can never both succeed on the
 * same version; all but `claim` refuse unless the version they write over is still claimed by the pool.
 * They start from the copy the pass saw (the cache): if it is current the write needs no read, and if it is
 * stale the guard refuses it (409) and the check is made again on a fresh read.
 */
import type { PoolRef } from "../../lib/api/baremetalpool.ts";
import { ANNOTATION, LABEL } from "../../lib/api/labels.ts";
import { HARDWARE, type Hardware } from "../../lib/api/tinkerbell.ts";
import { KubeClient, isConflict, isNotFound } from "../../lib/kube/rest.ts";

export class NotClaimedError extends Error {
  constructor(hw: string, pool: PoolRef) {
    super(`refusing to act on Hardware ${hw}: it is not claimed by pool ${pool.namespace}/${pool.name}`);
    this.name = "NotClaimedError";
  }
}

function setNetboot(hw: Hardware, allow: boolean): void {
  for (const iface of hw.spec.interfaces ?? []) {
    iface.netboot = { ...iface.netboot, allowPXE: allow, allowWorkflow: allow };
  }
}

/** Claims a free Hardware as seen at `seen.metadata.resourceVersion`; false if someone else wrote first. */
export async function claim(
  client: KubeClient,
  seen: Hardware,
  pool: PoolRef,
  now: Date,
): Promise<Hardware | null> {
  const hw = structuredClone(seen);
  if (hw.metadata.labels?.[LABEL.poolUID]) return null;
  hw.metadata.labels = { ...hw.metadata.labels, [LABEL.poolUID]: pool.uid, [LABEL.pool]: pool.name };
  hw.metadata.annotations = {
    ...hw.metadata.annotations,
    [ANNOTATION.poolNamespace]: pool.namespace,
    [ANNOTATION.claimedAt]: now.toISOString(),
  };
  setNetboot(hw, true);
  try {
    return await client.update(HARDWARE, hw);
  } catch (err) {
    // Someone wrote first, or the Hardware is gone: the next look sees which.
    if (isConflict(err) || isNotFound(err)) return null;
    throw err;
  }
}

/**
 * Applies `mutate` to the Hardware while it is claimed by `pool`, first on `seen` (the pass's copy), then on
 * fresh reads: a precondition that fails on the pass's copy (claim, release mark) is checked again on a
 * fresh read before it counts, and a conflict re-reads and retries.
 */
export async function updateClaimed(
  client: KubeClient,
  seen: Hardware,
  pool: PoolRef,
  mutate: (hw: Hardware) => void,
): Promise<Hardware> {
  const namespace = seen.metadata.namespace ?? "";
  const name = seen.metadata.name ?? "";
  for (let attempt = 0; ; attempt++) {
    const cached = attempt === 0;
    const hw = cached ? structuredClone(seen) : await client.get<Hardware>(HARDWARE, namespace, name);
    try {
      if (hw.metadata.labels?.[LABEL.poolUID] !== pool.uid) throw new NotClaimedError(name, pool);
      mutate(hw);
    } catch (err) {
      if (cached) continue; // the pass's copy may be behind: judge on a fresh read
      throw err;
    }
    try {
      return await client.update(HARDWARE, hw);
    } catch (err) {
      if (!isConflict(err) || attempt >= 5) throw err;
    }
  }
}

/** Verifies on a fresh read that the pool still claims the Hardware; call before any power or wipe action. */
export async function assertClaimed(client: KubeClient, hw: Hardware, pool: PoolRef): Promise<Hardware> {
  const fresh = await client.get<Hardware>(HARDWARE, hw.metadata.namespace, hw.metadata.name ?? "");
  if (fresh.metadata.labels?.[LABEL.poolUID] !== pool.uid)
    throw new NotClaimedError(hw.metadata.name ?? "", pool);
  return fresh;
}

/** Lets a server go: no claim, none of the claim's bookkeeping, and PXE off, so no Workflow can boot it. */
function dropClaim(hw: Hardware): void {
  setNetboot(hw, false);
  const labels = { ...hw.metadata.labels };
  delete labels[LABEL.poolUID];
  delete labels[LABEL.pool];
  hw.metadata.labels = labels;
  const annotations = { ...hw.metadata.annotations };
  for (const k of [
    ANNOTATION.poolNamespace,
    ANNOTATION.claimedAt,
    ANNOTATION.releasing,
    ANNOTATION.attempts,
    ANNOTATION.lastFailure,
    ANNOTATION.lastError,
    ANNOTATION.deletePreferred,
    ANNOTATION.powerOffRequested,
    ANNOTATION.powerOffFailures,
    ANNOTATION.powerOffFailedAt,
    ANNOTATION.poweredOff,
  ])
    delete annotations[k];
  hw.metadata.annotations = annotations;
  // machine-controller leaves Staged/Decommissioned and an instance id behind; a released server is clean.
  if (hw.spec.metadata) {
    delete hw.spec.metadata.state;
    if (hw.spec.metadata.instance) {
      delete hw.spec.metadata.instance.id;
      delete hw.spec.metadata.instance.state;
    }
  }
}

export class NotReleasingError extends Error {
  constructor(hw: string) {
    super(`refusing to release Hardware ${hw}: it is no longer marked for release`);
    this.name = "NotReleasingError";
  }
}

/** Throws unless the (freshly read) Hardware is marked for release: wipe, power-off and release need it. */
export function requireReleasing(hw: Hardware): void {
  if (!hw.metadata.annotations?.[ANNOTATION.releasing]) throw new NotReleasingError(hw.metadata.name ?? "");
}

/** Drops the claim of a server marked for release, re-checking both on a fresh read. */
export function release(client: KubeClient, hw: Hardware, pool: PoolRef): Promise<Hardware> {
  return updateClaimed(client, hw, pool, (h) => {
    requireReleasing(h);
    dropClaim(h);
  });
}

export function quarantine(
  client: KubeClient,
  hw: Hardware,
  pool: PoolRef,
  reason: string,
): Promise<Hardware> {
  return updateClaimed(client, hw, pool, (h) => {
    dropClaim(h);
    h.metadata.labels = { ...h.metadata.labels, [LABEL.quarantined]: "true" };
    h.metadata.annotations = {
      ...h.metadata.annotations,
      [ANNOTATION.quarantineReason]: reason.slice(0, 1024),
      [ANNOTATION.quarantinedBy]: pool.uid,
    };
  });
}

/** Turns PXE off on every interface of a server the pool still holds (its disk is provisioned). */
export function disableNetboot(client: KubeClient, hw: Hardware, pool: PoolRef): Promise<Hardware> {
  return updateClaimed(client, hw, pool, (h) => setNetboot(h, false));
}

export function markReleasing(client: KubeClient, hw: Hardware, pool: PoolRef, now: Date): Promise<Hardware> {
  return updateClaimed(client, hw, pool, (h) => {
    h.metadata.annotations = { ...h.metadata.annotations, [ANNOTATION.releasing]: now.toISOString() };
  });
}
