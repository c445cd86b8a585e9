/**
 * The power path the operator calls to get a server into the provisioning OS, and back off.
 *
 * Safety: these functions act on exactly the Hardware they are given and check nothing else. The operator
 * must only call them for Hardware a BaremetalPool has claimed (metalpool.io/pool-uid), re-checked on a
 * fresh read just before the call; powering an unclaimed server off could take down someone's workload.
 *
 * Two implementations with the same contract ("call until done"):
 *  - redfishPowerPath (power-redfish.ts): metalpool talks to the BMC itself. Each call acts at once and
 *    answers "done"; calling pxeBootOnce twice restarts the server twice, so the caller records that it
 *    asked (e.g. an annotation) before asking again.
 *  - bmcJobPowerPath (power-job.ts): metalpool writes a bmc.tinkerbell.org Job for Tinkerbell's rufio to
 *    run. The Job's name derives from the operation key, so repeated calls create it once and then report
 *    its progress: "pending" until rufio marks it Completed ("done") or Failed ("failed").
 */
import type { Hardware } from "../api/tinkerbell.ts";

export interface PowerTarget {
  /** A Hardware the caller's pool has claimed. Its BMC comes from spec.bmcRef or the bmc annotations. */
  hardware: Hardware;
  /** Names one request (e.g. the Workflow and attempt): the same key is the same request. */
  operationKey: string;
}

/** Power as the BMC reports it; transitions count as where they are heading. */
export type MachinePower = "on" | "off" | "unknown";

export type PowerOutcome =
  | { state: "done"; detail: string }
  | { state: "pending"; detail: string }
  | { state: "failed"; detail: string };

export interface PowerPath {
  /** One-time network boot (UEFI or Legacy as the Hardware says), then power on — or restart if on. */
  pxeBootOnce(target: PowerTarget): Promise<PowerOutcome>;
  /** Power off (forced: the server is being released or re-provisioned). */
  powerOff(target: PowerTarget): Promise<PowerOutcome>;
  powerState(target: PowerTarget): Promise<MachinePower>;
}

export { wantsUefi } from "./boot-mode.ts";
export { redfishPowerPath } from "./power-redfish.ts";
export { bmcJobPowerPath, bmcJobName, jobOutcome, netbootJob, powerOffJob } from "./power-job.ts";
