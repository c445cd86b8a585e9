/**
 * provisioning.power: Redfish — metalpool talks to the BMC itself: one-time PXE boot (UEFI or Legacy as
 * the Hardware says), then power on, or a forced restart when the server is already on.
 */
import type { Hardware } from "../../lib/api/tinkerbell.ts";
import { resolveBmc } from "../../lib/bmc/target.ts";
import type { KubeClient } from "../../lib/kube/rest.ts";
import { RedfishClient } from "../../lib/redfish/client.ts";
import type { PowerControl } from "./power.ts";

export function redfishPower(kube: KubeClient, opts: { timeoutMs?: number } = {}): PowerControl {
  const withBmc = async <T>(
    hw: Hardware,
    act: (c: RedfishClient, systemId: string | undefined) => Promise<T>,
  ): Promise<T> => {
    const target = await resolveBmc(kube, hw);
    const client = new RedfishClient({
      ...target.endpoint,
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    });
    try {
      return await act(client, target.systemId);
    } finally {
      await client.close();
    }
  };
  return {
    netbootOnce: (hw) =>
      withBmc(hw, async (c, id) => {
        const uefi = hw.spec.interfaces?.[0]?.dhcp?.uefi !== false;
        await c.setOneTimePxe(uefi ? "UEFI" : "Legacy", id);
        const state = await c.powerState(id);
        await c.reset(state === "On" ? "ForceRestart" : "On", id);
      }),
    powerOff: (hw) =>
      withBmc(hw, async (c, id) => {
        if ((await c.powerState(id)) !== "Off") await c.reset("ForceOff", id);
      }),
  };
}
