/**
 * The power paths a pool can choose (provisioning.power). Manual needs no driver; TinkerbellBMC with an
 * operator-owned Workflow goes through the Workflow's bootOptions, which tink-controller executes.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../lib/log.ts";
import { manualPower, type PowerControl } from "./provision/power.ts";

export function powerDrivers(
  _kc: KubeConfig,
  _log: Logger,
): Partial<Record<"TinkerbellBMC" | "Redfish" | "Manual", PowerControl>> {
  return { Manual: manualPower };
}
