/**
 * Writes what a BMC reports into the Hardware, so pool requirements match real capacity: the inventory
 * labels metalpool matches on, a JSON annotation with the detail, and spec.disks — only when empty, so a
 * person's disk layout is never overwritten. One merge patch of exactly those keys.
 */
import { ANNOTATION, LABEL } from "../api/labels.ts";
import { HARDWARE, type Hardware } from "../api/tinkerbell.ts";
import type { KubeClient } from "../kube/rest.ts";
import type { Inventory } from "../redfish/inventory.ts";

const GiB = 2 ** 30;

export function inventoryPatch(hw: Hardware, inv: Inventory, now: Date): Record<string, unknown> {
  const sizes = inv.disks.map((d) => d.sizeBytes).filter((s): s is number => typeof s === "number");
  const labels: Record<string, string> = { [LABEL.disks]: String(inv.disks.length) };
  if (inv.cpus !== undefined) labels[LABEL.cpus] = String(inv.cpus);
  if (inv.memoryBytes !== undefined) labels[LABEL.memoryGiB] = String(Math.floor(inv.memoryBytes / GiB));
  if (sizes.length) labels[LABEL.diskMinGiB] = String(Math.floor(Math.min(...sizes) / GiB));
  const record = { ...inv, readAt: now.toISOString() };
  const patch: Record<string, unknown> = {
    metadata: { labels, annotations: { [ANNOTATION.inventory]: JSON.stringify(record) } },
  };
  // Device names are what the installed OS will call the disks; Redfish does not know them, so only a
  // Hardware with no disks at all gets the conventional names, in the BMC's order.
  if (!hw.spec.disks?.length && inv.disks.length) {
    patch.spec = { disks: inv.disks.map((_, i) => ({ device: `/dev/sd${String.fromCharCode(97 + i)}` })) };
  }
  return patch;
}

export async function writeInventory(
  client: KubeClient,
  hw: Hardware,
  inv: Inventory,
  now = new Date(),
): Promise<Hardware> {
  return client.patch<Hardware>(
    HARDWARE,
    hw.metadata.namespace,
    hw.metadata.name ?? "",
    inventoryPatch(hw, inv, now),
    "merge",
  );
}
