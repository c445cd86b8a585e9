/** The power contract both paths implement (see power.ts for the safety rules that go with it). */
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
