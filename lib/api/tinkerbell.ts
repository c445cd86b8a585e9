/**
 * The parts of Tinkerbell's v1alpha1 API (github.com/tinkerbell/tinkerbell, pinned in hack/versions.env)
 * that metalpool reads and writes. The CRDs themselves are the upstream ones; these types only name the
 * fields we touch, and everything else on an object is preserved untouched.
 */
import type { KubeObject, ResourceType } from "../kube/rest.ts";

export const HARDWARE: ResourceType = {
  group: "tinkerbell.org",
  version: "v1alpha1",
  plural: "hardware",
  kind: "Hardware",
  namespaced: true,
};
export const WORKFLOW: ResourceType = {
  group: "tinkerbell.org",
  version: "v1alpha1",
  plural: "workflows",
  kind: "Workflow",
  namespaced: true,
};
export const TEMPLATE: ResourceType = {
  group: "tinkerbell.org",
  version: "v1alpha1",
  plural: "templates",
  kind: "Template",
  namespaced: true,
};
export const BMC_MACHINE: ResourceType = {
  group: "bmc.tinkerbell.org",
  version: "v1alpha1",
  plural: "machines",
  kind: "Machine",
  namespaced: true,
};
export const BMC_JOB: ResourceType = {
  group: "bmc.tinkerbell.org",
  version: "v1alpha1",
  plural: "jobs",
  kind: "Job",
  namespaced: true,
};

export interface HardwareInterface {
  dhcp?: {
    mac?: string;
    arch?: string;
    uefi?: boolean;
    hostname?: string;
    iface_name?: string;
    ip?: { address?: string; netmask?: string; gateway?: string; family?: number };
    name_servers?: string[];
    lease_time?: number;
  };
  netboot?: { allowPXE?: boolean; allowWorkflow?: boolean; [extra: string]: unknown };
  [extra: string]: unknown;
}

export interface Hardware extends KubeObject {
  spec: {
    bmcRef?: { apiGroup?: string; kind?: string; name: string };
    disks?: { device?: string }[];
    interfaces?: HardwareInterface[];
    metadata?: {
      state?: string;
      instance?: { id?: string; state?: string; [extra: string]: unknown };
      [extra: string]: unknown;
    };
    userData?: string;
    [extra: string]: unknown;
  };
  status?: { state?: string };
}

export interface WorkflowStatus {
  state?: string;
  agentID?: string;
  globalTimeout?: number;
  currentState?: { actionName?: string; taskName?: string; state?: string };
  conditions?: { type: string; status: string; reason?: string; message?: string; time?: string }[];
  tasks?: {
    name: string;
    agentID?: string;
    actions?: { name: string; state?: string; message?: string }[];
  }[];
  bootOptions?: {
    allowNetboot?: { toggledTrue?: boolean; toggledFalse?: boolean };
    jobs?: Record<string, unknown>;
  };
}

export interface Workflow extends KubeObject {
  spec: {
    templateRef?: string;
    hardwareRef?: string;
    hardwareMap?: Record<string, string>;
    disabled?: boolean;
    bootOptions?: { toggleAllowNetboot?: boolean; bootMode?: "netboot" | "isoboot" | "iso" | "customboot" };
  };
  status?: WorkflowStatus;
}

export interface Template extends KubeObject {
  spec: { data?: string };
}

export interface BmcJob extends KubeObject {
  spec: {
    machineRef: { name: string; namespace: string };
    tasks: Record<string, unknown>[];
  };
  status?: { conditions?: { type: string; status: string; message?: string }[] };
}

/** Workflow states as Tinkerbell v0.17+ writes them; older releases prefixed them with STATE_. */
export type WorkflowState =
  "PREPARING" | "PENDING" | "RUNNING" | "POST" | "SUCCESS" | "FAILED" | "TIMEOUT" | "UNKNOWN";

export function workflowState(wf: Workflow | undefined): WorkflowState | undefined {
  const raw = wf?.status?.state;
  if (!raw) return undefined;
  const state = raw.replace(/^STATE_/, "");
  const known: WorkflowState[] = ["PREPARING", "PENDING", "RUNNING", "POST", "SUCCESS", "FAILED", "TIMEOUT"];
  return known.includes(state as WorkflowState) ? (state as WorkflowState) : "UNKNOWN";
}

/** States after which a Workflow never changes again without a person. */
export const TERMINAL_FAILURE: ReadonlySet<WorkflowState> = new Set(["FAILED", "TIMEOUT"]);

/** The most specific reason a Workflow failed: the failed action's message, else a condition, else the state. */
export function workflowError(wf: Workflow): string {
  const actions = wf.status?.tasks?.flatMap((t) => t.actions ?? []) ?? [];
  const failedAction = actions.find((a) => /^(STATE_)?(FAILED|TIMEOUT)$/.test(a.state ?? ""));
  if (failedAction) return `action ${failedAction.name}: ${failedAction.message || failedAction.state}`;
  const condition = wf.status?.conditions?.find(
    (c) => c.status === "False" || /fail|timeout/i.test(c.reason ?? ""),
  );
  return condition?.message ?? wf.status?.state ?? "unknown";
}

/** When the Workflow last changed state (its newest condition), or undefined when it reported none. */
export function workflowChangedAt(wf: Workflow): number | undefined {
  const times = (wf.status?.conditions ?? []).map((c) => Date.parse(c.time ?? "")).filter(Number.isFinite);
  return times.length ? Math.max(...times) : undefined;
}

/** Every MAC of a Hardware, normalised to lower case. */
export function hardwareMacs(hw: Hardware): string[] {
  return (hw.spec.interfaces ?? [])
    .map((i) => i.dhcp?.mac?.toLowerCase())
    .filter((m): m is string => Boolean(m));
}
