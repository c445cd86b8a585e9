/**
 * provisioning.power: TinkerbellBMC when the Workflow is not ours (machine-controller creates it without
 * bootOptions): metalpool creates a bmc.tinkerbell.org Job — off, one-time PXE, on — for Tinkerbell's rufio
 * to run. The Job's name derives from the operation key, so asking twice creates it once.
 */
import { LABEL } from "../../lib/api/labels.ts";
import { BMC_JOB, type BmcJob, type Hardware } from "../../lib/api/tinkerbell.ts";
import { isAlreadyExists, type KubeClient } from "../../lib/kube/rest.ts";
import { childName } from "./names.ts";
import type { PowerControl } from "./power.ts";

export function netbootJob(hw: Hardware, operationKey: string): BmcJob {
  const machine = hw.spec.bmcRef?.name;
  if (!machine) throw new Error(`Hardware ${hw.metadata.name} has no spec.bmcRef for a bmc Job`);
  const efiBoot = hw.spec.interfaces?.[0]?.dhcp?.uefi !== false;
  return {
    apiVersion: "bmc.tinkerbell.org/v1alpha1",
    kind: "Job",
    metadata: {
      name: childName(63, "metalpool", operationKey, "netboot"),
      namespace: hw.metadata.namespace,
      labels: { [LABEL.hardware]: hw.metadata.name ?? "" },
    },
    spec: {
      machineRef: { name: machine, namespace: hw.metadata.namespace ?? "" },
      tasks: [{ powerAction: "off" }, { bootDevice: { device: "pxe", efiBoot } }, { powerAction: "on" }],
    },
  };
}

export function bmcJobPower(kube: KubeClient): PowerControl {
  const create = async (job: BmcJob): Promise<void> => {
    try {
      await kube.create(BMC_JOB, job);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  };
  return {
    netbootOnce: (hw, key) => create(netbootJob(hw, key)),
    powerOff: (hw, key) =>
      create({
        ...netbootJob(hw, key),
        metadata: {
          name: childName(63, "metalpool", key, "off"),
          namespace: hw.metadata.namespace,
          labels: { [LABEL.hardware]: hw.metadata.name ?? "" },
        },
        spec: {
          machineRef: { name: hw.spec.bmcRef?.name ?? "", namespace: hw.metadata.namespace ?? "" },
          tasks: [{ powerAction: "off" }],
        },
      }),
  };
}
