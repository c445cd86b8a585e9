/**
 * Which ComputerSystem.Reset type to send for what metalpool means. BMCs advertise the types they accept
 * (ResetType@Redfish.AllowableValues) and differ: some have no ForceRestart but PowerCycle, some only
 * GracefulShutdown. Each intent lists acceptable types, most direct first; the first one the system allows
 * wins. A system that advertises nothing gets the first (the Redfish default set has it).
 */

/** Redfish ComputerSystem.Reset types (DMTF Resource.ResetType). */
export type ResetType =
  | "On"
  | "ForceOff"
  | "GracefulShutdown"
  | "GracefulRestart"
  | "ForceRestart"
  | "ForceOn"
  | "PowerCycle"
  | "Nmi"
  | "PushPowerButton";

export type PowerIntent = "on" | "off" | "restart";

export const RESET_PREFERENCES: Readonly<Record<PowerIntent, readonly ResetType[]>> = {
  on: ["On", "ForceOn", "PushPowerButton"],
  // A server being handed back or re-provisioned has nothing worth a graceful shutdown; force first.
  off: ["ForceOff", "GracefulShutdown", "PushPowerButton"],
  // A power cycle also boots again, and the one-time override applies at that boot.
  restart: ["ForceRestart", "PowerCycle", "GracefulRestart"],
};

/** The reset type for `intent`, or undefined when the system allows none of the acceptable ones. */
export function chooseResetType(
  intent: PowerIntent,
  allowed: readonly string[] | undefined,
): ResetType | undefined {
  const preferences = RESET_PREFERENCES[intent];
  if (!allowed) return preferences[0];
  return preferences.find((type) => allowed.includes(type));
}
