/**
 * Every request metalpool makes of a BMC, timed and sorted by how it ended, for metrics: which operation,
 * and whether the BMC did it, is still doing it (a rufio Job waiting), refused it, or could not be reached.
 * The result is a closed set (Redfish's error kinds and a few more), so it can be a label.
 */
import type { PowerOutcome } from "../../lib/bmc/power.ts";
import { BmcConfigError } from "../../lib/bmc/target.ts";
import { RedfishError, type RedfishErrorKind } from "../../lib/redfish/errors.ts";

/** netboot and power-off for members; inventory of free servers; vouch: what a BMC reports managing. */
export const bmcOperations = ["netboot", "power-off", "inventory", "vouch"] as const;
export type BmcOperation = (typeof bmcOperations)[number];

/**
 * success / pending (a rufio Job created, not finished) / failed (the BMC or rufio reported failure) /
 * a Redfish error kind (unreachable, timeout, unauthorized, tls, …) / config (the BMC is not described
 * usably: no Secret, plain http refused) / error (anything else, e.g. the Kubernetes API).
 */
export type BmcResult = "success" | "pending" | "failed" | RedfishErrorKind | "config" | "error";

export type BmcObserver = (operation: BmcOperation, result: BmcResult, seconds: number) => void;

export function outcomeResult(outcome: PowerOutcome): BmcResult {
  return outcome.state === "done" ? "success" : outcome.state;
}

export function errorResult(err: unknown): BmcResult {
  if (err instanceof RedfishError) return err.kind;
  if (err instanceof BmcConfigError) return "config";
  return "error";
}

/** Runs one BMC request and tells `observe` how long it took and how it ended; the result passes through. */
export async function timedBmcRequest<T>(
  operation: BmcOperation,
  observe: BmcObserver | undefined,
  request: () => Promise<T>,
  resultOf: (value: T) => BmcResult,
): Promise<T> {
  if (!observe) return request();
  const started = performance.now();
  const seconds = (): number => (performance.now() - started) / 1000;
  let value: T;
  try {
    value = await request();
  } catch (err) {
    observe(operation, errorResult(err), seconds());
    throw err;
  }
  observe(operation, resultOf(value), seconds());
  return value;
}
