/**
 * The operator's view of lib/bmc/power.ts: a power request either happens (Redfish acts at once; a rufio Job
 * is created once per operation key and then runs) or fails with a message fit for a condition. The caller
 * (pool/apply.ts) re-checks the claim on a fresh read first and records that it asked before asking. Every
 * request is timed and its result told to `observe` (metrics).
 */
import { bmcJobPowerPath, redfishPowerPath, type PowerPath, type PowerOutcome } from "../../lib/bmc/power.ts";
import type { RedfishPowerOptions } from "../../lib/bmc/power-redfish.ts";
import type { KubeClient } from "../../lib/kube/rest.ts";
import { outcomeResult, timedBmcRequest, type BmcObserver, type BmcOperation } from "./bmc-requests.ts";
import type { PowerControl } from "./power.ts";

export function powerControl(path: PowerPath, observe?: BmcObserver): PowerControl {
  const act = async (
    operation: BmcOperation,
    request: () => Promise<PowerOutcome>,
  ): Promise<"pending" | undefined> => {
    const result = await timedBmcRequest(operation, observe, request, outcomeResult);
    if (result.state === "failed") throw new Error(result.detail);
    return result.state === "pending" ? "pending" : undefined;
  };
  return {
    netbootOnce: async (hardware, operationKey) => {
      await act("netboot", () => path.pxeBootOnce({ hardware, operationKey }));
    },
    powerOff: (hardware, operationKey) => act("power-off", () => path.powerOff({ hardware, operationKey })),
  };
}

export const redfishPower = (
  kube: KubeClient,
  opts: RedfishPowerOptions = {},
  observe?: BmcObserver,
): PowerControl => powerControl(redfishPowerPath(kube, opts), observe);
export const bmcJobPower = (kube: KubeClient, observe?: BmcObserver): PowerControl =>
  powerControl(bmcJobPowerPath(kube), observe);
