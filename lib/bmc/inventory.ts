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
import { resolveBmc, type ResolveOptions } from "./target.ts";

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
  if (!hw.spec.disks?.length && inv.disks.length)
    patch.spec = { disks: inv.disks.map((_, i) => ({ device: diskDevice(i) })) };
  // Guarded by the resourceVersion we read: if anyone wrote meanwhile (a person's disks, a pool's claim), the
  // write fails (409) instead of landing on a Hardware we have not seen, and the next look decides again.
  if (hw.metadata.resourceVersion)
    (patch.metadata as Record<string, unknown>).resourceVersion = hw.metadata.resourceVersion;
  return patch;
}

/** /dev/sda … /dev/sdz, /dev/sdaa … as Linux names SCSI/SATA disks. */
function diskDevice(index: number): string {
  let name = "";
  for (let i = index + 1; i > 0; i = Math.floor((i - 1) / 26))
    name = String.fromCharCode(97 + ((i - 1) % 26)) + name;
  return `/dev/sd${name}`;
}

/**
 * Writes the inventory on a fresh read, guarded by its resourceVersion, and never into a claimed Hardware:
 * the BMC read can take long, a pool may claim the server meanwhile, and machine-controller creates a
 * duplicate Workflow when a Hardware it provisions changes under it.
 */
export async function writeInventory(
  client: KubeClient,
  hw: Hardware,
  inv: Inventory,
  now = new Date(),
): Promise<Hardware> {
  const fresh = await client.get<Hardware>(HARDWARE, hw.metadata.namespace, hw.metadata.name ?? "");
  if (fresh.metadata.labels?.[LABEL.poolUID] || fresh.metadata.deletionTimestamp) return fresh;
  return client.patch<Hardware>(
    HARDWARE,
    fresh.metadata.namespace,
    fresh.metadata.name ?? "",
    inventoryPatch(fresh, inv, now),
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
  opts: ResolveOptions & { timeoutMs?: number; now?: Date } = {},
): Promise<{ hardware: Hardware; inventory: Inventory }> {
  const bmc = await resolveBmc(kube, hw, opts);
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
