/** Starting Workflows and asking for the one-time PXE boot that gets the server into the provisioning OS. */
import { ANNOTATION } from "../../lib/api/labels.ts";
import { TERMINAL_FAILURE } from "./observe.ts";
import { WORKFLOW, workflowState, type Hardware, type Workflow } from "../../lib/api/tinkerbell.ts";
import { buildWorkflow, type WorkflowPurpose } from "../provision/workflow.ts";
import { assertClaimed } from "./hardware-writes.ts";
import { ensureObject, type Pass } from "./pass.ts";

export async function startWorkflow(
  p: Pass,
  hw: Hardware,
  purpose: WorkflowPurpose,
  attempt: number,
  template: string,
): Promise<Workflow> {
  const viaBmc = p.spec.provisioning.power === "TinkerbellBMC" && Boolean(hw.spec.bmcRef);
  const wf = buildWorkflow({
    hw,
    poolUID: p.ref.uid,
    poolName: p.ref.name,
    template,
    purpose,
    attempt,
    netbootViaBmc: viaBmc,
  });
  const created = await ensureObject(p.d.client, WORKFLOW, wf);
  p.d.workflows.upsertLocal(created);
  await ensurePowered(p, hw, created);
  return created;
}

/**
 * Asks for the one-time PXE boot once per Workflow — unless tink-controller does it (bootOptions) or a
 * person does (Manual). The claim is re-checked on a fresh read right before the BMC is touched.
 */
export async function ensurePowered(p: Pass, hw: Hardware, wf: Workflow): Promise<void> {
  const mode = p.spec.provisioning.power;
  if (mode === "Manual" || wf.spec.bootOptions?.bootMode === "netboot") return;
  if (wf.metadata.annotations?.[ANNOTATION.powerRequested]) return;
  const state = workflowState(wf);
  if (state && state !== "PENDING" && state !== "PREPARING") return;
  const fresh = await assertClaimed(p.d.client, hw, p.ref);
  await p.d.power(mode).netbootOnce(fresh, wf.metadata.name ?? "");
  await p.d.client.patch(
    WORKFLOW,
    wf.metadata.namespace,
    wf.metadata.name ?? "",
    { metadata: { annotations: { [ANNOTATION.powerRequested]: p.d.now().toISOString() } } },
    "merge",
  );
}

/** Age of a Workflow, or with `sinceFinished` the time since its last status change. */
export function workflowAgeMs(p: Pass, wf: Workflow, sinceFinished = false): number {
  const finished = sinceFinished
    ? wf.status?.conditions
        ?.map((c) => c.time ?? "")
        .sort()
        .at(-1)
    : undefined;
  const from = Date.parse(finished || wf.metadata.creationTimestamp || "") || p.d.now().getTime();
  return p.d.now().getTime() - from;
}

/** The most specific reason a Workflow failed: the failed action's message, else a condition, else the state. */
export function workflowError(wf: Workflow): string {
  const actions = wf.status?.tasks?.flatMap((t) => t.actions ?? []) ?? [];
  const failedAction = actions.find((a) => a.state && TERMINAL_FAILURE.has(a.state.replace(/^STATE_/, "")));
  if (failedAction) return `action ${failedAction.name}: ${failedAction.message || failedAction.state}`;
  const condition = wf.status?.conditions?.find(
    (c) => c.status === "False" || /fail|timeout/i.test(c.reason ?? ""),
  );
  return condition?.message ?? wf.status?.state ?? "unknown";
}
