/**
 * How a claimed server gets into the provisioning OS: a one-time PXE boot and power on. The operator calls
 * this only for Hardware its pool has claimed (the caller re-checks the claim on a fresh read first).
 */
import type { Hardware } from "../../lib/api/tinkerbell.ts";

export interface PowerControl {
  /** One-time PXE + power on (or reset when on). `operationKey` makes repeats of one request idempotent. */
  netbootOnce(hw: Hardware, operationKey: string): Promise<void>;
  /**
   * Power the server off before release. Resolves "pending" when the request was accepted but has not run
   * yet (a rufio Job waiting for rufio; asking again with the same key reports on it), anything else once it
   * ran.
   */
  powerOff(hw: Hardware, operationKey: string): Promise<"pending" | void>;
}

/** Manual power: a person boots the server; metalpool only waits for the Workflow to progress. */
export const manualPower: PowerControl = {
  netbootOnce: () => Promise.resolve(),
  powerOff: () => Promise.resolve(),
};
