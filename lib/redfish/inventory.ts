/**
 * A server's inventory as its BMC reports it: CPU cores, memory, disks and NICs. BMCs differ in which
 * resources they implement (Storage/Drives or the older SimpleStorage; per-processor TotalCores or only a
 * summary), so each figure takes the most specific source available and missing parts are left out
 * rather than guessed.
 */
import type { ComputerSystem, ODataRef, RedfishClient } from "./client.ts";
import { RedfishError } from "./errors.ts";

export interface Inventory {
  systemId: string;
  uuid?: string;
  manufacturer?: string;
  model?: string;
  serial?: string;
  /** CPU cores (sum of TotalCores of CPUs; else the summary's core or processor count). */
  cpus?: number;
  memoryBytes?: number;
  disks: { name: string; sizeBytes?: number; rotational?: boolean }[];
  nics: { mac: string; speedMbps?: number }[];
}

interface Members {
  Members?: ODataRef[];
}

/** GETs a resource, treating "not implemented here" (404/501) as absent. */
async function optional<T>(client: RedfishClient, ref: ODataRef | undefined): Promise<T | undefined> {
  if (!ref) return undefined;
  try {
    return await client.get<T>(ref["@odata.id"]);
  } catch (err) {
    if (
      err instanceof RedfishError &&
      (err.status === 404 || err.status === 501 || (err.kind === "server" && err.status === 500))
    )
      return undefined;
    throw err;
  }
}

async function members<T>(client: RedfishClient, ref: ODataRef | undefined): Promise<T[]> {
  const col = await optional<Members>(client, ref);
  const out: T[] = [];
  for (const m of col?.Members ?? []) {
    const item = await optional<T>(client, m);
    if (item) out.push(item);
  }
  return out;
}

async function cpuCores(client: RedfishClient, s: ComputerSystem): Promise<number | undefined> {
  const processors = await members<{ ProcessorType?: string; TotalCores?: number }>(client, s.Processors);
  const cores = processors.filter(
    (p) => (p.ProcessorType ?? "CPU") === "CPU" && typeof p.TotalCores === "number",
  );
  if (cores.length) return cores.reduce((sum, p) => sum + (p.TotalCores ?? 0), 0);
  const summary = s.ProcessorSummary;
  return summary?.CoreCount ?? summary?.LogicalProcessorCount ?? summary?.Count;
}

type Drive = { Id?: string; Name?: string; CapacityBytes?: number | null; MediaType?: string };
type SimpleDevice = { Name?: string; CapacityBytes?: number | null; Status?: { State?: string } };

/** Storage/Drives, the current schema: one entry per Drive resource that still exists. */
async function storageDrives(client: RedfishClient, s: ComputerSystem): Promise<Inventory["disks"]> {
  const out: Inventory["disks"] = [];
  for (const storage of await members<{ Drives?: ODataRef[] }>(client, s.Storage)) {
    for (const ref of storage.Drives ?? []) {
      const d = await optional<Drive>(client, ref);
      if (!d) continue;
      out.push({
        name: d.Id ?? d.Name ?? ref["@odata.id"],
        ...(d.CapacityBytes ? { sizeBytes: d.CapacityBytes } : {}),
        ...(d.MediaType ? { rotational: d.MediaType === "HDD" } : {}),
      });
    }
  }
  return out;
}

/** SimpleStorage, the older schema: devices inline, empty bays marked Absent. */
async function simpleStorageDevices(client: RedfishClient, s: ComputerSystem): Promise<Inventory["disks"]> {
  const controllers = await members<{ Devices?: SimpleDevice[] }>(client, s.SimpleStorage);
  return controllers
    .flatMap((c) => c.Devices ?? [])
    .filter((dev) => dev.Status?.State !== "Absent")
    .map((dev) => ({
      name: dev.Name ?? "disk",
      ...(dev.CapacityBytes ? { sizeBytes: dev.CapacityBytes } : {}),
    }));
}

/** Storage when the BMC has it (it is the more detailed), else SimpleStorage; never both (same disks). */
async function disks(client: RedfishClient, s: ComputerSystem): Promise<Inventory["disks"]> {
  const drives = await storageDrives(client, s);
  return drives.length ? drives : simpleStorageDevices(client, s);
}

async function nics(client: RedfishClient, s: ComputerSystem): Promise<Inventory["nics"]> {
  const ifaces = await members<{
    MACAddress?: string;
    PermanentMACAddress?: string;
    SpeedMbps?: number | null;
  }>(client, s.EthernetInterfaces);
  return ifaces
    .map((i) => ({
      mac: (i.PermanentMACAddress || i.MACAddress || "").toLowerCase(),
      ...(i.SpeedMbps ? { speedMbps: i.SpeedMbps } : {}),
    }))
    .filter((n) => /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(n.mac));
}

/**
 * Only what identifies the server: its system UUID and NIC MACs. A few requests instead of a full inventory
 * (BMCs often take a second per request), for callers that only ask "is this that server?".
 */
export async function readIdentity(
  client: RedfishClient,
  systemId?: string,
): Promise<Pick<Inventory, "systemId" | "uuid" | "nics">> {
  const s = await client.system(systemId);
  return { systemId: s.Id, ...(s.UUID ? { uuid: s.UUID.toLowerCase() } : {}), nics: await nics(client, s) };
}

export async function readInventory(client: RedfishClient, systemId?: string): Promise<Inventory> {
  const s = await client.system(systemId);
  const [cpus, diskList, nicList] = [
    await cpuCores(client, s),
    await disks(client, s),
    await nics(client, s),
  ];
  const memory = s.MemorySummary?.TotalSystemMemoryGiB;
  return {
    systemId: s.Id,
    ...(s.UUID ? { uuid: s.UUID.toLowerCase() } : {}),
    ...(s.Manufacturer ? { manufacturer: s.Manufacturer } : {}),
    ...(s.Model ? { model: s.Model } : {}),
    ...(s.SerialNumber ? { serial: s.SerialNumber } : {}),
    ...(cpus !== undefined ? { cpus } : {}),
    ...(memory ? { memoryBytes: Math.round(memory * 2 ** 30) } : {}),
    disks: diskList,
    nics: nicList,
  };
}
