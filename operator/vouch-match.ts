/**
 * Whether a BMC the cluster already knows vouches for a pending discovered server. Pure: Hardware and what
 * the BMCs report in, one verdict per pending Hardware out.
 *
 * Everything discovery records comes from the client's own packet, so anyone on the provisioning network can
 * claim any MAC or UUID. A bmc.tinkerbell.org Machine is different: a person created it with the BMC's
 * credentials, and what its BMC reports (the server's NICs, its SMBIOS UUID) comes from the hardware. The
 * rules, each closing a way to borrow a real server's identity:
 *
 * - The client's MAC is one of the BMC system's NICs, and the client's UUID (if it sent one) is that
 *   system's (in either SMBIOS byte order).
 * - A UUID alone vouches only when the BMC lists no NIC at all. A UUID is broadcast in every PXE request, so
 *   a host could send a real server's UUID with its own MAC; if the BMC lists NICs and the MAC is none of
 *   them, the provisioning (bound to that MAC) would go to the wrong host.
 * - One BMC vouches for one Hardware: never for a second one while a Hardware already names it (spec.bmcRef
 *   or a previous vouch), nor for two pending ones at once (a server with two NICs PXE-booting, or a clone).
 * - Contradictions (a MAC one BMC lists with another system's UUID, two BMCs, a spec.bmcRef naming another
 *   BMC) vouch for nothing. No verdict ever rejects: an unvouched server stays pending for a person.
 */
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import { BMC_MACHINE, type Hardware } from "../lib/api/tinkerbell.ts";
import { sameSystemUuid } from "../lib/redfish/uuid.ts";

/** What one bmc Machine's BMC reports about the system it manages. */
export interface BmcReport {
  /** The bmc.tinkerbell.org Machine, in the Hardware's namespace. */
  machine: string;
  uuid?: string;
  macs: readonly string[];
}

export type Verdict =
  | { kind: "vouched"; machine: string; evidence: string }
  | { kind: "doubtful"; reason: string }
  | { kind: "unknown" };

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

/** aa:bb:cc:dd:ee:ff in lower case, from either case and ':' or '-' separators; undefined if malformed. */
export function normalMac(mac: string): string | undefined {
  const m = mac.trim().toLowerCase().replace(/-/g, ":");
  return MAC.test(m) ? m : undefined;
}

/** Discovered, waiting for approval, and nobody has claimed or is deleting it. */
export function isVouchCandidate(hw: Hardware): boolean {
  const labels = hw.metadata.labels ?? {};
  return (
    labels[LABEL.discovered] === "true" &&
    labels[LABEL.approval] === "pending" &&
    labels[LABEL.approved] !== "true" &&
    !labels[LABEL.poolUID] &&
    !hw.metadata.deletionTimestamp
  );
}

/** bmc Machines some Hardware other than a candidate already names: they vouch for nobody else. */
export function boundMachines(hardware: readonly Hardware[]): Set<string> {
  const bound = new Set<string>();
  for (const hw of hardware) {
    if (isVouchCandidate(hw)) continue;
    const ref = hw.spec.bmcRef?.name;
    const vouchedBy = hw.metadata.annotations?.[ANNOTATION.vouchedBy];
    if (ref) bound.add(ref);
    if (vouchedBy) bound.add(vouchedBy);
  }
  return bound;
}

type Evidence = { match: string } | { doubt: string } | undefined;

/** What one report says about a client with this MAC and UUID. */
export function evidence(mac: string | undefined, uuid: string | undefined, r: BmcReport): Evidence {
  const macListed = mac !== undefined && r.macs.some((m) => normalMac(m) === mac);
  const bothUuids = uuid !== undefined && r.uuid !== undefined;
  const sameUuid = bothUuids && sameSystemUuid(uuid, r.uuid ?? "");
  if (macListed) {
    if (bothUuids && !sameUuid)
      return {
        doubt: `bmc Machine ${r.machine} lists NIC ${mac} but reports system UUID ${r.uuid}, not the client's ${uuid}`,
      };
    return { match: sameUuid ? `NIC ${mac} and system UUID ${r.uuid}` : `NIC ${mac}` };
  }
  if (!sameUuid) return undefined;
  if (r.macs.length)
    return {
      doubt: `bmc Machine ${r.machine} reports system UUID ${r.uuid}, but the client's MAC ${mac ?? "(none)"} is none of its NICs (${r.macs.join(", ")})`,
    };
  return { match: `system UUID ${r.uuid} (the BMC lists no NICs)` };
}

/** The MAC and UUID discovery recorded from the client's packet. */
function clientIdentity(hw: Hardware): { mac?: string; uuid?: string } {
  const mac = normalMac(hw.spec.interfaces?.[0]?.dhcp?.mac ?? "");
  const uuid = hw.metadata.annotations?.[ANNOTATION.uuid];
  return { ...(mac ? { mac } : {}), ...(uuid ? { uuid } : {}) };
}

function verdictFor(hw: Hardware, reports: readonly BmcReport[]): Verdict {
  const { mac, uuid } = clientIdentity(hw);
  const found = reports.map((r) => ({ machine: r.machine, e: evidence(mac, uuid, r) }));
  const doubts = found.flatMap(({ e }) => (e && "doubt" in e ? [e.doubt] : []));
  if (doubts.length) return { kind: "doubtful", reason: doubts.join("; ") };
  const matches = found.flatMap(({ machine, e }) => (e && "match" in e ? [{ machine, what: e.match }] : []));
  const [first] = matches;
  if (!first) return { kind: "unknown" };
  if (matches.length > 1)
    return {
      kind: "doubtful",
      reason: `bmc Machines ${matches.map((m) => m.machine).join(", ")} all report it`,
    };
  const ref = hw.spec.bmcRef?.name;
  if (ref && ref !== first.machine)
    return {
      kind: "doubtful",
      reason: `its spec.bmcRef names bmc Machine ${ref}, but bmc Machine ${first.machine} reports it`,
    };
  return { kind: "vouched", machine: first.machine, evidence: first.what };
}

/**
 * One verdict per candidate in `hardware` (all Hardware of one namespace), keyed by name, from the reports
 * of that namespace's bmc Machines. Reports of Machines another Hardware already names are ignored.
 */
export function decideVouching(
  hardware: readonly Hardware[],
  reports: readonly BmcReport[],
): Map<string, Verdict> {
  const bound = boundMachines(hardware);
  const usable = reports.filter((r) => !bound.has(r.machine));
  const verdicts = new Map<string, Verdict>();
  const byMachine = new Map<string, string[]>();
  for (const hw of hardware.filter(isVouchCandidate)) {
    const name = hw.metadata.name ?? "";
    const v = verdictFor(hw, usable);
    verdicts.set(name, v);
    if (v.kind === "vouched") byMachine.set(v.machine, [...(byMachine.get(v.machine) ?? []), name]);
  }
  for (const [machine, names] of byMachine) {
    if (names.length < 2) continue;
    const reason = `bmc Machine ${machine} reports each of Hardware ${names.join(", ")}; approve the right one by hand`;
    for (const name of names) verdicts.set(name, { kind: "doubtful", reason });
  }
  return verdicts;
}

/**
 * The merge patch that approves a vouched Hardware: guarded by the resourceVersion it was decided on, so a
 * write in between (an approval, a claim, a person's edit) makes it fail instead of landing unseen.
 */
export function vouchPatch(hw: Hardware, machine: string): Record<string, unknown> {
  return {
    metadata: {
      resourceVersion: hw.metadata.resourceVersion,
      labels: { [LABEL.approved]: "true", [LABEL.approval]: "vouched" },
      annotations: { [ANNOTATION.vouchedBy]: machine },
    },
    ...(hw.spec.bmcRef?.name
      ? {}
      : { spec: { bmcRef: { apiGroup: BMC_MACHINE.group, kind: BMC_MACHINE.kind, name: machine } } }),
  };
}
