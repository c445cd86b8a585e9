/**
 * The power path over Redfish: resolve the Hardware's BMC, open a client for this one call, act, close.
 * A client per call keeps no credentials or sessions in memory between calls.
 */
import type { KubeClient } from "../kube/rest.ts";
import { RedfishClient, type PowerState } from "../redfish/client.ts";
import { resolveBmc, type ResolveOptions } from "./target.ts";
import { wantsUefi } from "./boot-mode.ts";
import type { MachinePower, PowerPath, PowerTarget } from "./power-types.ts";

export interface RedfishPowerOptions extends ResolveOptions {
  timeoutMs?: number;
  retries?: number;
}

export function machinePower(state: PowerState | undefined): MachinePower {
  if (state === "On" || state === "PoweringOn" || state === "Paused") return "on";
  if (state === "Off" || state === "PoweringOff") return "off";
  return "unknown";
}

export function redfishPowerPath(kube: KubeClient, opts: RedfishPowerOptions = {}): PowerPath {
  const withBmc = async <T>(
    target: PowerTarget,
    act: (c: RedfishClient, systemId: string | undefined) => Promise<T>,
  ): Promise<T> => {
    const bmc = await resolveBmc(kube, target.hardware, opts);
    const client = new RedfishClient({
      ...bmc.endpoint,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
    });
    try {
      return await act(client, bmc.systemId);
    } finally {
      await client.close();
    }
  };

  return {
    pxeBootOnce: (target) =>
      withBmc(target, async (c, id) => {
        const mode = wantsUefi(target.hardware) ? "UEFI" : "Legacy";
        // Override first: it applies at the next boot, which the power action below starts.
        await c.setOneTimePxe(mode, id);
        const on = machinePower(await c.powerState(id)) === "on";
        const sent = await c.power(on ? "restart" : "on", id);
        return { state: "done", detail: `one-time PXE (${mode}) set; ResetType ${sent} sent` };
      }),
    powerOff: (target) =>
      withBmc(target, async (c, id) => {
        if ((await c.powerState(id)) === "Off") return { state: "done", detail: "already off" };
        const sent = await c.power("off", id);
        return { state: "done", detail: `ResetType ${sent} sent` };
      }),
    powerState: (target) => withBmc(target, async (c, id) => machinePower(await c.powerState(id))),
  };
}
