/**
 * The power paths a pool can choose (provisioning.power). TinkerbellBMC with an operator-owned Workflow
 * goes through the Workflow's bootOptions (tink-controller makes the Job); the driver here covers
 * machine-controller's Workflows, which have none.
 */
import type { KubeConfig } from "../lib/kube/kubeconfig.ts";
import { KubeClient } from "../lib/kube/rest.ts";
import type { Logger } from "../lib/log.ts";
import type { SecretPolicy } from "../lib/kube/secret-policy.ts";
import { bmcJobPower, redfishPower } from "./provision/bmc-power.ts";
import type { BmcObserver } from "./provision/bmc-requests.ts";
import { manualPower, type PowerControl } from "./provision/power.ts";

export function powerDrivers(
  kc: KubeConfig,
  _log: Logger,
  policy?: SecretPolicy,
  observe?: BmcObserver,
): Record<"TinkerbellBMC" | "Redfish" | "Manual", PowerControl> {
  const kube = new KubeClient(kc);
  return {
    Manual: manualPower,
    TinkerbellBMC: bmcJobPower(kube, observe),
    Redfish: redfishPower(kube, policy ? { policy } : {}, observe),
  };
}
