/**
 * Writes what a BMC reports into the Hardware, so pool requirements match real capacity: the inventory
 * labels metalpool matches on, a JSON annotation with the detail, and spec.disks — only when empty, so a
 * person's disk layout is never overwritten. One merge patch of exactly those keys.
 */
import { ANNOTATION, LABEL } from "../api/labels.ts";
import { HARDWARE, type Hardware } from "../api/tinkerbell.ts";
import type { KubeClient } from "../kube/rest.ts";
import { RedfishClient } from "../redfish/client.ts";
import { readInventory, type Inventory } from "../redfish/inventory.ts";
import { resolveBmc } from "./target.ts";

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
    patch.spec = { disks: inv.disks.map((_, i) => ({ device: diskDevice(i) })) };
    // Guarded by the resourceVersion we read: if a person set disks meanwhile, the write fails (409)
    // instead of replacing their list, and the next pass sees their disks and leaves them.
    if (hw.metadata.resourceVersion)
      (patch.metadata as Record<string, unknown>).resourceVersion = hw.metadata.resourceVersion;
  }
  return patch;
}

/** /dev/sda … /dev/sdz, /dev/sdaa … as Linux names SCSI/SATA disks. */
function diskDevice(index: number): string {
  let name = "";
  for (let i = index + 1; i > 0; i = Math.floor((i - 1) / 26))
    name = String.fromCharCode(97 + ((i - 1) % 26)) + name;
  return `/dev/sd${name}`;
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

/**
 * Reads a Hardware's inventory from its BMC (spec.bmcRef's bmc Machine, or the bmc annotations) and writes
 * it into the Hardware. Throws BmcConfigError (nothing to talk to) or RedfishError (the BMC failed); both
 * carry messages fit for an Event, without credentials.
 */
export async function syncInventory(
  kube: KubeClient,
  hw: Hardware,
  opts: { ca?: string; timeoutMs?: number; now?: Date } = {},
): Promise<{ hardware: Hardware; inventory: Inventory }> {
  const bmc = await resolveBmc(kube, hw, opts.ca ? { ca: opts.ca } : {});
  const redfish = new RedfishClient({
    ...bmc.endpoint,
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  });
  try {
    const inventory = await readInventory(redfish, bmc.systemId);
    return { hardware: await writeInventory(kube, hw, inventory, opts.now), inventory };
  } finally {
    await redfish.close();
  }
}
