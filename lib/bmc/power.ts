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
export type { MachinePower, PowerOutcome, PowerPath, PowerTarget } from "./power-types.ts";
export { wantsUefi } from "./boot-mode.ts";
export { redfishPowerPath } from "./power-redfish.ts";
export { bmcJobPowerPath, bmcJobName, jobOutcome, netbootJob, powerOffJob } from "./power-job.ts";
