/**
 * The operator's view of lib/bmc/power.ts: a power request either happens (Redfish acts at once; a rufio Job
 * is created once per operation key and then runs) or fails with a message fit for a condition. The caller
 * (pool/apply.ts) re-checks the claim on a fresh read first and records that it asked before asking.
 */
import { bmcJobPowerPath, redfishPowerPath, type PowerPath } from "../../lib/bmc/power.ts";
import type { RedfishPowerOptions } from "../../lib/bmc/power-redfish.ts";
import type { KubeClient } from "../../lib/kube/rest.ts";
import type { PowerControl } from "./power.ts";

export function powerControl(path: PowerPath): PowerControl {
  const act = async (outcome: Promise<{ state: string; detail: string }>): Promise<void> => {
    const result = await outcome;
    if (result.state === "failed") throw new Error(result.detail);
  };
  return {
    netbootOnce: (hardware, operationKey) => act(path.pxeBootOnce({ hardware, operationKey })),
    powerOff: (hardware, operationKey) => act(path.powerOff({ hardware, operationKey })),
  };
}

export const redfishPower = (kube: KubeClient, opts: RedfishPowerOptions = {}): PowerControl =>
  powerControl(redfishPowerPath(kube, opts));
export const bmcJobPower = (kube: KubeClient): PowerControl => powerControl(bmcJobPowerPath(kube));
