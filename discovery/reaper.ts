/**
 * Deleting expired pending Hardware (policy limits.deleteExpiredPending, off by default). The caches only
 * nominate candidates; each is read fresh, checked again, and deleted with uid and resourceVersion
 * preconditions, so a server a person approved, a pool claimed or that booted again between our read and
 * our delete is left alone (the API server answers 409 Conflict).
 */
import { LABEL } from "../lib/api/labels.ts";
import { HARDWARE, type Hardware } from "../lib/api/tinkerbell.ts";
import { isConflict, isNotFound, resourcePath, type KubeClient } from "../lib/kube/rest.ts";
import type { Logger } from "../lib/log.ts";
import { isPending, lastSeenOf } from "./pending.ts";

/** Why this Hardware, freshly read, must be kept; undefined when it may be deleted. */
export function keepReason(hw: Hardware, now: number, expiryMs: number): string | undefined {
  const labels = hw.metadata.labels ?? {};
  if (hw.metadata.deletionTimestamp) return "already being deleted";
  if (labels[LABEL.discovered] !== "true") return "not created by discovery";
  if (!isPending(hw)) return "no longer pending";
  if (labels[LABEL.poolUID]) return "claimed by a pool";
  const seen = lastSeenOf(hw);
  if (seen === undefined || now - seen < expiryMs) return "seen within the expiry";
  return undefined;
}

export interface ReapOptions {
  client: KubeClient;
  now: number;
  expiryMs: number;
  log: Logger;
}

/** Deletes those of the nominated Hardware (namespace/name) that are still expired pending; returns them. */
export async function deleteExpiredPending(keys: string[], o: ReapOptions): Promise<Hardware[]> {
  const deleted: Hardware[] = [];
  for (const key of keys) {
    const slash = key.indexOf("/");
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    try {
      const hw = await o.client.getOrNull<Hardware>(HARDWARE, namespace, name);
      const keep = hw ? keepReason(hw, o.now, o.expiryMs) : "gone";
      if (!hw || keep) {
        o.log.debug({ hardware: key, keep }, "not deleting expired pending Hardware");
        continue;
      }
      await o.client.request("DELETE", resourcePath(HARDWARE, namespace, name), {
        apiVersion: "v1",
        kind: "DeleteOptions",
        preconditions: { uid: hw.metadata.uid, resourceVersion: hw.metadata.resourceVersion },
      });
      deleted.push(hw);
      o.log.info(
        { hardware: key, lastSeen: new Date(lastSeenOf(hw) ?? 0).toISOString() },
        "deleted expired pending Hardware",
      );
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) {
        o.log.debug({ hardware: key }, "expired pending Hardware changed or went away before its deletion");
        continue;
      }
      o.log.warn(
        { hardware: key, err: err instanceof Error ? err.message : String(err) },
        "deleting expired pending Hardware failed",
      );
    }
  }
  return deleted;
}
