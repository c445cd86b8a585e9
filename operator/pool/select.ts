/**
 * Which Hardware a pool may claim, and in which order. Pure: no I/O, no clock.
 * Order: hard requirements filter; then weighted preferences; then spread across failure domains
 * (the spreadKey label, so a pool does not land in one rack); then name, so the choice is deterministic.
 */
import type { BaremetalPoolSpec, Requirements } from "../../lib/api/baremetalpool.ts";
import { LABEL } from "../../lib/api/labels.ts";
import { parseQuantity } from "../../lib/api/quantity.ts";
import { matchesSelector } from "../../lib/api/selector.ts";
import type { Hardware } from "../../lib/api/tinkerbell.ts";

const GiB = 2 ** 30;

function intLabel(hw: Hardware, key: string): number | undefined {
  const raw = hw.metadata.labels?.[key];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

function archOf(hw: Hardware): string | undefined {
  return hw.metadata.labels?.[LABEL.arch] ?? hw.spec.interfaces?.[0]?.dhcp?.arch;
}

function uefiOf(hw: Hardware): boolean | undefined {
  const label = hw.metadata.labels?.[LABEL.uefi];
  if (label === "true" || label === "false") return label === "true";
  return hw.spec.interfaces?.[0]?.dhcp?.uefi;
}

/** Why a server fails the pool's requirements; empty when it meets them all. */
export function requirementGaps(hw: Hardware, req: Requirements | undefined): string[] {
  if (!req) return [];
  const gaps: string[] = [];
  if (req.arch && archOf(hw) !== req.arch) gaps.push(`arch is ${archOf(hw) ?? "unknown"}, need ${req.arch}`);
  if (req.uefi !== undefined && uefiOf(hw) !== req.uefi) gaps.push(req.uefi ? "not UEFI" : "not legacy BIOS");
  const cpus = intLabel(hw, LABEL.cpus);
  if (req.minCPUs && (cpus ?? 0) < req.minCPUs) gaps.push(`${cpus ?? "unknown"} CPUs, need ${req.minCPUs}`);
  const mem = intLabel(hw, LABEL.memoryGiB);
  if (req.minMemory && (mem ?? 0) * GiB < parseQuantity(req.minMemory))
    gaps.push(`${mem ?? "unknown"} GiB memory, need ${req.minMemory}`);
  const disks = intLabel(hw, LABEL.disks) ?? hw.spec.disks?.length ?? 0;
  if (req.minDisks && disks < req.minDisks) gaps.push(`${disks} disks, need ${req.minDisks}`);
  const smallest = intLabel(hw, LABEL.diskMinGiB);
  if (req.minDiskSize && (smallest ?? 0) * GiB < parseQuantity(req.minDiskSize))
    gaps.push(`smallest disk ${smallest ?? "unknown"} GiB, need ${req.minDiskSize}`);
  return gaps;
}

/** What machine-controller's tinkerbell driver silently assumes about a Hardware (see shared notes). */
export function provisionabilityGaps(hw: Hardware): string[] {
  const gaps: string[] = [];
  const dhcp = hw.spec.interfaces?.[0]?.dhcp;
  if (!dhcp?.mac) gaps.push("interfaces[0].dhcp.mac is missing");
  if (!dhcp?.ip?.address || !dhcp.ip.netmask) gaps.push("interfaces[0].dhcp.ip address/netmask are missing");
  if (!hw.spec.disks?.[0]?.device) gaps.push("disks[0].device is missing");
  const state = hw.spec.metadata?.state;
  if (state) gaps.push(`metadata.state is "${state}" (must be empty; a person clears Decommissioned)`);
  return gaps;
}

/** Why a server is not free for any pool: claimed, quarantined, unapproved, being deleted. */
export function availabilityGaps(hw: Hardware): string[] {
  const labels = hw.metadata.labels ?? {};
  const gaps: string[] = [];
  if (labels[LABEL.poolUID]) gaps.push(`claimed by pool ${labels[LABEL.pool] ?? labels[LABEL.poolUID]}`);
  if (labels[LABEL.quarantined] === "true") gaps.push("quarantined");
  if (labels[LABEL.discovered] === "true" && labels[LABEL.approved] !== "true")
    gaps.push("discovered but not approved");
  if (hw.metadata.deletionTimestamp) gaps.push("being deleted");
  return gaps;
}

export function isEligible(hw: Hardware, spec: BaremetalPoolSpec): boolean {
  return (
    matchesSelector(hw.metadata.labels, spec.hardwareSelector) &&
    availabilityGaps(hw).length === 0 &&
    requirementGaps(hw, spec.requirements).length === 0 &&
    provisionabilityGaps(hw).length === 0
  );
}

export function preferenceScore(hw: Hardware, spec: BaremetalPoolSpec): number {
  return (spec.preferences ?? []).reduce(
    (sum, p) => sum + (matchesSelector(hw.metadata.labels, p.selector) ? p.weight : 0),
    0,
  );
}

/**
 * Picks `count` servers from `candidates`, greedily: best preference score first; among equals the one
 * whose failure domain holds the fewest pool members so far (counting `members`); then by name.
 * Within one failure domain the order never changes, so each step compares only the domains' heads.
 */
export function chooseHardware(
  candidates: Hardware[],
  members: Hardware[],
  spec: BaremetalPoolSpec,
  count: number,
): Hardware[] {
  const domainOf = (hw: Hardware): string =>
    spec.spreadKey ? (hw.metadata.labels?.[spec.spreadKey] ?? "") : "";
  const perDomain = new Map<string, number>();
  for (const m of members) perDomain.set(domainOf(m), (perDomain.get(domainOf(m)) ?? 0) + 1);
  type Scored = { hw: Hardware; score: number; name: string };
  const queues = new Map<string, Scored[]>();
  for (const hw of candidates) {
    const domain = domainOf(hw);
    const queue = queues.get(domain) ?? [];
    queue.push({ hw, score: preferenceScore(hw, spec), name: hw.metadata.name ?? "" });
    queues.set(domain, queue);
  }
  const byScoreThenName = (a: Scored, b: Scored): number => b.score - a.score || a.name.localeCompare(b.name);
  for (const queue of queues.values()) queue.sort(byScoreThenName);
  // The global order: best score, then the emptier failure domain, then name.
  const before = (a: [string, Scored], b: [string, Scored]): boolean =>
    (b[1].score - a[1].score ||
      (perDomain.get(a[0]) ?? 0) - (perDomain.get(b[0]) ?? 0) ||
      a[1].name.localeCompare(b[1].name)) < 0;
  const chosen: Hardware[] = [];
  while (chosen.length < count) {
    let best: [string, Scored] | undefined;
    for (const [domain, queue] of queues) {
      const head = queue[0];
      if (head && (!best || before([domain, head], best))) best = [domain, head];
    }
    if (!best) break;
    const [domain, head] = best;
    queues.get(domain)?.shift();
    chosen.push(head.hw);
    perDomain.set(domain, (perDomain.get(domain) ?? 0) + 1);
  }
  return chosen;
}
