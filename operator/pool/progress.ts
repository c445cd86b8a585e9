/**
 * Step 4, progress: drive one member towards Ready. Its MachineDeployment exists; a Workflow runs (ours, or
 * machine-controller's) within the pool's concurrency limit; the server is PXE-booted once per attempt; a
 * failed or overdue attempt is retried with backoff, and after maxAttempts the server is quarantined.
 */
import { ANNOTATION, LABEL } from "../../lib/api/labels.ts";
import { MACHINE_DEPLOYMENT } from "../../lib/api/machine-controller.ts";
import { parseDuration } from "../../lib/api/quantity.ts";
import { TEMPLATE, WORKFLOW, workflowState, type Workflow } from "../../lib/api/tinkerbell.ts";
import { isAlreadyExists } from "../../lib/kube/rest.ts";
import { buildMachineDeployment } from "../provision/machine-deployment.ts";
import { buildProvisionTemplate, provisionTemplateName } from "../provision/template.ts";
import { assertClaimed, updateClaimed } from "./hardware-writes.ts";
import { TERMINAL_FAILURE, machinesFor } from "./observe.ts";
import { ensureObject, type Pass } from "./pass.ts";
import { quarantineMember } from "./shrink.ts";
import type { MemberView } from "./types.ts";
import { ensurePowered, startWorkflow, workflowAgeMs, workflowError } from "./workflows.ts";

const machineControllerOwns = (p: Pass): boolean => p.spec.provisioning.workflowOwner === "MachineController";

export async function progress(p: Pass, m: MemberView, inFlight: () => number): Promise<void> {
  const latest = m.workflows.at(-1);
  const failure = latest && attemptFailure(p, m, latest);
  if (latest && failure) return failAttempt(p, m, latest, failure);
  if (!m.md && !(await ensureMachineDeployment(p, m))) return;
  if (latest) return ensurePowered(p, m.hw, latest);
  if (inFlight() >= p.spec.provisioning.maxConcurrent) return; // wait for a provisioning slot
  if (p.spec.provisioning.power === "TinkerbellBMC" && !m.hw.spec.bmcRef) {
    throw new Error(
      `Hardware ${m.hw.metadata.name} has no spec.bmcRef; add a bmc.tinkerbell.org Machine or set provisioning.power`,
    );
  }
  if (machineControllerOwns(p)) return; // machine-controller creates the Workflow; we power on once it exists
  if (!retryDue(p, m)) return;
  const template = await provisionTemplate(p);
  await assertClaimed(p.d.client, m.hw, p.ref);
  const wf = await startWorkflow(p, m.hw, "provision", m.attempt + 1, template);
  m.phase = "Provisioning";
  p.d.event(
    p.pool,
    "Normal",
    "Provisioning",
    `attempt ${m.attempt + 1} on Hardware ${m.hw.metadata.name}: Workflow ${wf.metadata.name}`,
  );
}

/** Why the latest attempt counts as failed, or undefined while it is fine. */
function attemptFailure(p: Pass, m: MemberView, wf: Workflow): string | undefined {
  const state = workflowState(wf);
  if (state && TERMINAL_FAILURE.has(state)) return `attempt ${m.attempt} ${state}: ${workflowError(wf)}`;
  const timeout = p.spec.provisioning.attemptTimeout;
  if (state !== "SUCCESS" && workflowAgeMs(p, wf) > parseDuration(timeout)) {
    return `attempt ${m.attempt} did not finish within ${timeout}`;
  }
  return undefined;
}

/**
 * Creates the member's MachineDeployment if it has none; false while that must wait. In machine-controller
 * mode a retry needs the old Machine gone and the Hardware's Staged/Decommissioned state cleared first.
 */
async function ensureMachineDeployment(p: Pass, m: MemberView): Promise<boolean> {
  let attempt = Math.max(1, m.attempt);
  if (machineControllerOwns(p) && m.attempt > 0) {
    if ((await machinesFor(p, m.hw)).length > 0) return false;
    if (!retryDue(p, m)) return false;
    if (m.hw.spec.metadata?.state || m.hw.spec.metadata?.instance?.id) {
      p.d.hardware.upsertLocal(
        await updateClaimed(
          p.d.client,
          m.hw.metadata.namespace ?? "",
          m.hw.metadata.name ?? "",
          p.ref,
          (hw) => {
            if (!hw.spec.metadata) return;
            delete hw.spec.metadata.state;
            if (hw.spec.metadata.instance) delete hw.spec.metadata.instance.id;
          },
        ),
      );
    }
    attempt = m.attempt + 1;
  }
  const md = buildMachineDeployment(p.ref, p.spec, m.hw, p.target.namespace, attempt);
  try {
    m.md = await p.target.client.create(MACHINE_DEPLOYMENT, md);
    p.d.event(
      p.pool,
      "Normal",
      "MachineDeploymentCreated",
      `created MachineDeployment ${md.metadata.name} for Hardware ${m.hw.metadata.name}`,
    );
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  return true;
}

async function provisionTemplate(p: Pass): Promise<string> {
  if (p.spec.provisioning.templateRef) return p.spec.provisioning.templateRef;
  const timeoutSeconds = parseDuration(p.spec.provisioning.attemptTimeout) / 1000;
  await ensureObject(
    p.d.client,
    TEMPLATE,
    buildProvisionTemplate(p.ref.name, p.ref.namespace, p.spec, timeoutSeconds),
  );
  return provisionTemplateName(p.ref.name);
}

/** Whether the backoff after the last failed attempt has passed: base × 2^(attempt-1). */
function retryDue(p: Pass, m: MemberView): boolean {
  if (m.attempt === 0) return true;
  const wait = p.d.retryBackoffMs * 2 ** (m.attempt - 1);
  const recorded = Date.parse(m.hw.metadata.annotations?.[ANNOTATION.lastFailure] ?? "");
  const last = m.workflows.at(-1);
  const sinceFailure = Number.isFinite(recorded)
    ? p.d.now().getTime() - recorded
    : last
      ? workflowAgeMs(p, last, true)
      : Infinity;
  return sinceFailure >= wait;
}

async function failAttempt(p: Pass, m: MemberView, wf: Workflow, message: string): Promise<void> {
  m.lastError = message;
  const max = p.spec.provisioning.maxAttempts;
  if (m.attempt >= max)
    return quarantineMember(p, m, `${max} provisioning attempts failed; last: ${message}`);
  if (machineControllerOwns(p)) return failMachineControllerAttempt(p, m, wf, message);
  if (!retryDue(p, m)) return;
  p.d.event(p.pool, "Warning", "ProvisioningFailed", `Hardware ${m.hw.metadata.name}: ${message}; retrying`);
  const template = await provisionTemplate(p);
  await assertClaimed(p.d.client, m.hw, p.ref);
  // The next attempt exists before the failed one goes, so the attempt count survives a crash in between.
  await startWorkflow(p, m.hw, "provision", m.attempt + 1, template);
  await p.d.client.delete(WORKFLOW, wf.metadata.namespace, wf.metadata.name ?? "", { uid: wf.metadata.uid });
}

/**
 * machine-controller creates one Workflow per Machine and never notices a failure, so a retry is a new
 * MachineDeployment. Each step keeps the attempt count somewhere that outlives the next step: the failed
 * Workflow's label, then the Hardware (written only once no MachineDeployment provisions it).
 */
async function failMachineControllerAttempt(
  p: Pass,
  m: MemberView,
  wf: Workflow,
  message: string,
): Promise<void> {
  const name = wf.metadata.name ?? "";
  if (wf.metadata.labels?.[LABEL.attempt] !== String(m.attempt)) {
    await p.d.client.patch(
      WORKFLOW,
      wf.metadata.namespace,
      name,
      { metadata: { labels: { [LABEL.attempt]: String(m.attempt) } } },
      "merge",
    );
  }
  if (m.md) {
    p.d.event(
      p.pool,
      "Warning",
      "ProvisioningFailed",
      `Hardware ${m.hw.metadata.name}: ${message}; replacing its MachineDeployment`,
    );
    await p.target.client.delete(MACHINE_DEPLOYMENT, p.target.namespace, m.md.metadata.name ?? "", {
      uid: m.md.metadata.uid,
    });
    return;
  }
  p.d.hardware.upsertLocal(
    await updateClaimed(p.d.client, m.hw.metadata.namespace ?? "", m.hw.metadata.name ?? "", p.ref, (hw) => {
      hw.metadata.annotations = {
        ...hw.metadata.annotations,
        [ANNOTATION.attempts]: String(m.attempt),
        [ANNOTATION.lastFailure]: p.d.now().toISOString(),
      };
    }),
  );
  await p.d.client.delete(WORKFLOW, wf.metadata.namespace, name, { uid: wf.metadata.uid });
}
