/**
 * The power path through Tinkerbell's rufio: a bmc.tinkerbell.org/v1alpha1 Job per operation, named from
 * the operation key so asking twice creates it once, and its result read from status.conditions. Task
 * shapes follow the v0.25 CRD: `powerAction` (on|off|soft|status|cycle|reset) and `bootDevice{device,
 * efiBoot}` (the older `oneTimeBootDeviceAction` is deprecated there). Power state comes from the bmc
 * Machine's status.powerState, which rufio keeps current.
 */
import { createHash } from "node:crypto";
import { LABEL } from "../api/labels.ts";
import { BMC_JOB, BMC_MACHINE, type BmcJob, type Hardware } from "../api/tinkerbell.ts";
import { isAlreadyExists, type KubeClient, type KubeObject } from "../kube/rest.ts";
import { wantsUefi } from "./boot-mode.ts";
import type { MachinePower, PowerOutcome, PowerPath, PowerTarget } from "./power-types.ts";

/** `metalpool-<key>-<purpose>`, a DNS-1123 name of at most 63 characters (hash-shortened when longer). */
export function bmcJobName(operationKey: string, purpose: "netboot" | "off"): string {
  const full = `metalpool-${operationKey}-${purpose}`.toLowerCase().replace(/[^a-z0-9.-]/g, "-");
  if (full.length <= 63) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, 8);
  return `${full.slice(0, 54).replace(/[-.]+$/, "")}-${hash}`;
}

function machineOf(hw: Hardware): string {
  const name = hw.spec.bmcRef?.name;
  if (!name)
    throw new Error(
      `Hardware ${hw.metadata.namespace}/${hw.metadata.name} has no spec.bmcRef; the bmc Job path needs a bmc Machine`,
    );
  return name;
}

/**
 * A Job names its server and, when the Hardware is claimed, the claim it was made for (the pool's UID and
 * name, as on Workflows): the orphan collector deletes a Job no live claim explains, so a power request
 * never outlives the claim it was made under and reaches a server that is free or another pool's.
 */
function job(hw: Hardware, name: string, tasks: BmcJob["spec"]["tasks"]): BmcJob {
  const namespace = hw.metadata.namespace ?? "default";
  const poolUID = hw.metadata.labels?.[LABEL.poolUID];
  const pool = hw.metadata.labels?.[LABEL.pool];
  const claim: Record<string, string> =
    poolUID && pool ? { [LABEL.poolUID]: poolUID, [LABEL.pool]: pool } : {};
  return {
    apiVersion: "bmc.tinkerbell.org/v1alpha1",
    kind: "Job",
    metadata: { name, namespace, labels: { [LABEL.hardware]: hw.metadata.name ?? "", ...claim } },
    spec: { machineRef: { name: machineOf(hw), namespace }, tasks },
  };
}

/** Off, one-time PXE, on: the same three steps tink-controller asks rufio for in a netboot Workflow. */
export function netbootJob(hw: Hardware, operationKey: string): BmcJob {
  return job(hw, bmcJobName(operationKey, "netboot"), [
    { powerAction: "off" },
    { bootDevice: { device: "pxe", efiBoot: wantsUefi(hw) } },
    { powerAction: "on" },
  ]);
}

export function powerOffJob(hw: Hardware, operationKey: string): BmcJob {
  return job(hw, bmcJobName(operationKey, "off"), [{ powerAction: "off" }]);
}

/** What rufio made of a Job: Failed or Completed (conditions with status True), else still pending. */
export function jobOutcome(j: BmcJob): PowerOutcome {
  const conditions = j.status?.conditions ?? [];
  const holds = (type: string): { message?: string } | undefined =>
    conditions.find((c) => c.type === type && c.status === "True");
  const name = `bmc Job ${j.metadata.namespace}/${j.metadata.name}`;
  const failed = holds("Failed");
  if (failed) return { state: "failed", detail: `${name} failed: ${failed.message ?? "no message"}` };
  if (holds("Completed")) return { state: "done", detail: `${name} completed` };
  return { state: "pending", detail: `${name} is waiting for rufio` };
}

interface BmcMachineStatus extends KubeObject {
  status?: { powerState?: string };
}

export function bmcJobPowerPath(kube: KubeClient): PowerPath {
  /** Creates the Job unless it exists, then reports the Job as it is now. */
  const ensure = async (wanted: BmcJob): Promise<PowerOutcome> => {
    try {
      return jobOutcome(await kube.create(BMC_JOB, wanted));
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    return jobOutcome(await kube.get<BmcJob>(BMC_JOB, wanted.metadata.namespace, wanted.metadata.name ?? ""));
  };
  return {
    pxeBootOnce: (t: PowerTarget) => ensure(netbootJob(t.hardware, t.operationKey)),
    powerOff: (t: PowerTarget) => ensure(powerOffJob(t.hardware, t.operationKey)),
    powerState: async (t: PowerTarget): Promise<MachinePower> => {
      const hw = t.hardware;
      const machine = await kube.get<BmcMachineStatus>(BMC_MACHINE, hw.metadata.namespace, machineOf(hw));
      const state = machine.status?.powerState;
      return state === "on" || state === "off" ? state : "unknown";
    },
  };
}
