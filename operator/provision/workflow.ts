import { LABEL } from "../../lib/api/labels.ts";
import type { Hardware, Workflow } from "../../lib/api/tinkerbell.ts";
import { childName } from "./names.ts";

export type WorkflowPurpose = "provision" | "wipe";

export function workflowName(hw: Hardware, purpose: WorkflowPurpose, attempt: number): string {
  return purpose === "wipe"
    ? childName(63, "metalpool", hw.metadata.name ?? "", "wipe")
    : childName(63, "metalpool", hw.metadata.name ?? "", `a${attempt}`);
}

/**
 * A Workflow for one Hardware. tink-controller toggles the Hardware's allowPXE on before the Workflow runs
 * and off once its last action succeeded (v0.25 `toggleAllowNetboot`), so the server boots its new disk
 * afterwards instead of the provisioning OS again. With `netbootViaBmc` tink-controller also powers the
 * server off, sets a one-time PXE boot and powers it on through a bmc Job (needs hardware.spec.bmcRef).
 */
export function buildWorkflow(opts: {
  hw: Hardware;
  poolUID: string;
  poolName: string;
  template: string;
  purpose: WorkflowPurpose;
  attempt: number;
  netbootViaBmc: boolean;
}): Workflow {
  const { hw } = opts;
  const mac = hw.spec.interfaces?.[0]?.dhcp?.mac ?? "";
  return {
    apiVersion: "tinkerbell.org/v1alpha1",
    kind: "Workflow",
    metadata: {
      name: workflowName(hw, opts.purpose, opts.attempt),
      namespace: hw.metadata.namespace,
      labels: {
        [LABEL.poolUID]: opts.poolUID,
        [LABEL.pool]: opts.poolName,
        [LABEL.hardware]: hw.metadata.name ?? "",
        [LABEL.purpose]: opts.purpose,
        [LABEL.attempt]: String(opts.attempt),
      },
    },
    spec: {
      templateRef: opts.template,
      hardwareRef: hw.metadata.name,
      hardwareMap: { device_1: mac },
      bootOptions: {
        toggleAllowNetboot: true,
        ...(opts.netbootViaBmc ? { bootMode: "netboot" as const } : {}),
      },
    },
  };
}
