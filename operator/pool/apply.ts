/**
 * Apply: one switch over the planned actions. Actions of one member run in order and stop at its first
 * error; members run side by side within a bound. Every action that can power, wipe or release re-reads
 * what it depends on (the claim, the release mark, the Workflow's state) right before acting, and checks
 * that this replica still leads.
 */
import { createHash } from "node:crypto";
import type { BaremetalPoolSpec, PoolRef } from "../../lib/api/baremetalpool.ts";
import { ANNOTATION, LABEL } from "../../lib/api/labels.ts";
import { MACHINE_DEPLOYMENT } from "../../lib/api/machine-controller.ts";
import { parseDuration } from "../../lib/api/quantity.ts";
import {
  TEMPLATE,
  WORKFLOW,
  workflowState,
  type Hardware,
  type Template,
  type Workflow,
} from "../../lib/api/tinkerbell.ts";
import { isAlreadyExists, type KubeClient, type KubeObject, type ResourceType } from "../../lib/kube/rest.ts";
import { buildMachineDeployment } from "../provision/machine-deployment.ts";
import {
  buildProvisionTemplate,
  buildWipeTemplate,
  provisionTemplateName,
  wipeTemplateName,
} from "../provision/template.ts";
import { buildWorkflow, type WorkflowPurpose } from "../provision/workflow.ts";
import { errorText, type PoolEventReason, type ReconcilerDeps, type TargetCluster } from "./deps.ts";
import {
  assertClaimed,
  disableNetboot,
  claim,
  markReleasing,
  quarantine,
  release,
  requireReleasing,
  updateClaimed,
} from "./hardware-writes.ts";
import type { Action, MemberView, PoolObject } from "./types.ts";

export interface ApplyContext {
  d: ReconcilerDeps;
  pool: PoolObject;
  ref: PoolRef;
  spec: BaremetalPoolSpec;
  target: TargetCluster;
  /** Templates ensured so far (namespace/name → content hash), so each is written once per change. */
  templates: Map<string, string>;
  /**
   * This pass's Template name per purpose, rendered and ensured once however many members start at once
   * (rendering is a YAML document; a pass may start a hundred Workflows). Fresh for every pass.
   */
  passTemplates: Map<WorkflowPurpose, Promise<string>>;
  signal?: AbortSignal;
}

export interface ApplyResult {
  /** Per Hardware name: the error that stopped its actions this pass. */
  errors: Map<string, string>;
  /** Servers claimed this pass. */
  claimed: Hardware[];
  /** Members that left the pool this pass (released or quarantined). */
  left: Set<string>;
}

/**
 * Members acted on at once. It only hides round-trip time (a pass over a thousand members is a thousand
 * requests); what the API server receives is bounded by the client's request limit (--kube-api-qps).
 */
const DEFAULT_CONCURRENCY = 32;

export async function apply(ctx: ApplyContext, actions: readonly Action[]): Promise<ApplyResult> {
  const result: ApplyResult = { errors: new Map(), claimed: [], left: new Set() };
  const byServer = new Map<string, Action[]>();
  for (const a of actions) {
    if (a.kind === "wait") continue;
    const name = (a.kind === "claim" ? a.hw : a.member.hw).metadata.name ?? "";
    byServer.set(name, [...(byServer.get(name) ?? []), a]);
  }
  const queue = [...byServer];
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [name, list] = next;
      try {
        for (const a of list) {
          ctx.signal?.throwIfAborted();
          await act(ctx, a, result);
        }
      } catch (err) {
        if (ctx.signal?.aborted) throw err;
        const text = errorText(err);
        result.errors.set(name, text);
        ctx.d.log.warn({ pool: ctx.ref.name, hardware: name, err: text }, "member action failed");
      }
    }
  };
  const n = Math.max(1, Math.min(ctx.d.concurrency ?? DEFAULT_CONCURRENCY, queue.length));
  await Promise.all(Array.from({ length: n }, worker));
  return result;
}

async function act(ctx: ApplyContext, a: Action, result: ApplyResult): Promise<void> {
  const { d, ref } = ctx;
  switch (a.kind) {
    case "claim": {
      const claimed = await claim(d.client, a.hw, ref, d.now());
      if (!claimed) return; // someone else wrote first; the next pass sees the new state
      d.hardware.upsertLocal(claimed);
      result.claimed.push(claimed);
      return event(ctx, "Normal", "Claimed", `claimed Hardware ${a.hw.metadata.name}`);
    }
    case "markReleasing":
      d.hardware.upsertLocal(await markReleasing(d.client, a.member.hw, ref, d.now()));
      return;
    case "createMachineDeployment":
      return createMachineDeployment(ctx, a.member, a.attempt);
    case "deleteMachineDeployment":
      return deleteMachineDeployment(ctx, a.member);
    case "startWorkflow": {
      const wf = await startWorkflow(ctx, a.member, "provision", a.attempt);
      return event(
        ctx,
        "Normal",
        "Provisioning",
        `attempt ${a.attempt} on Hardware ${name(a.member)}: Workflow ${wf.metadata.name}`,
      );
    }
    case "retry":
      await event(ctx, "Warning", "ProvisioningFailed", `Hardware ${name(a.member)}: ${a.reason}; retrying`);
      // The next attempt exists before the failed one goes, so the attempt count survives a crash in between.
      await startWorkflow(ctx, a.member, "provision", a.attempt);
      return deleteObject(d.client, WORKFLOW, a.failed);
    case "replaceMachineDeployment":
      return replaceMachineDeployment(ctx, a.member, a.failed, a.reason);
    case "clearHardwareState":
      return clearHardwareState(ctx, a.member, a.failure);
    case "disableNetboot":
      d.hardware.upsertLocal(await disableNetboot(d.client, a.member.hw, ref));
      return;
    case "deleteWorkflows":
      for (const wf of a.workflows) await deleteObject(d.client, WORKFLOW, wf);
      return;
    case "powerIntoPxe":
      return powerIntoPxe(ctx, a.member, a.workflow);
    case "startWipe":
      await startWorkflow(ctx, a.member, "wipe", 0);
      return event(ctx, "Normal", "Wiping", `wiping Hardware ${name(a.member)} (${a.mode})`);
    case "powerOff":
      return powerOff(ctx, a.member);
    case "release":
      d.hardware.upsertLocal(await release(d.client, a.member.hw, ref));
      // Left as soon as the claim is gone: a pass never sees this member again, so a failure below must not
      // lose its release from the status and the metrics (the wipe Workflow, if it stays, is an orphan the
      // collector deletes).
      result.left.add(name(a.member));
      if (a.member.wipe) await deleteObject(d.client, WORKFLOW, a.member.wipe);
      return event(
        ctx,
        "Normal",
        "Released",
        `released Hardware ${name(a.member)} (wipe: ${ctx.spec.provisioning.wipeMode})`,
      );
    case "quarantine":
      await quarantineMember(ctx, a.member, a.reason);
      result.left.add(name(a.member));
      return;
    case "wait":
      return;
  }
}

const name = (m: MemberView): string => m.hw.metadata.name ?? "";

/**
 * A power request's key names the server and this claim of it: a bmc Job is created once per key and a
 * completed one answers "done" for ever after, so a key reused by the next claim would power nothing off.
 */
const claimKey = (purpose: string, m: MemberView): string => {
  const claimed = Date.parse(m.hw.metadata.annotations?.[ANNOTATION.claimedAt] ?? "");
  return `${purpose}-${name(m)}${Number.isFinite(claimed) ? `-${Math.floor(claimed / 1000).toString(36)}` : ""}`;
};

function event(
  ctx: ApplyContext,
  type: "Normal" | "Warning",
  reason: PoolEventReason,
  message: string,
): Promise<void> {
  ctx.d.event(ctx.pool, type, reason, message);
  return Promise.resolve();
}

/** Power and wipe need this replica to lead at the moment it acts, not when the pass began. */
function assertLeading(ctx: ApplyContext): void {
  ctx.signal?.throwIfAborted();
  if (ctx.d.leading && !ctx.d.leading()) throw new Error("this replica no longer leads; not acting");
}

/**
 * A fresh read proving the pool holds the server, in the state the action expects: provisioning actions
 * need it not marked for release, wipe and power-off need the mark.
 */
async function assertHeld(ctx: ApplyContext, m: MemberView, releasing: boolean): Promise<Hardware> {
  const fresh = await assertClaimed(ctx.d.client, m.hw, ctx.ref);
  if (releasing) requireReleasing(fresh);
  else if (fresh.metadata.annotations?.[ANNOTATION.releasing])
    throw new Error(`Hardware ${name(m)} was marked for release; not provisioning it`);
  return fresh;
}

async function createOrGet<T extends KubeObject>(client: KubeClient, type: ResourceType, obj: T): Promise<T> {
  try {
    return await client.create(type, obj);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    return client.get<T>(type, obj.metadata.namespace, obj.metadata.name ?? "");
  }
}

function deleteObject(client: KubeClient, type: ResourceType, obj: KubeObject): Promise<void> {
  return client.delete(type, obj.metadata.namespace, obj.metadata.name ?? "", { uid: obj.metadata.uid });
}

async function ensureTemplate(ctx: ApplyContext, template: Template): Promise<void> {
  const key = `${template.metadata.namespace}/${template.metadata.name}`;
  const hash = createHash("sha256").update(JSON.stringify(template.spec)).digest("hex");
  if (ctx.templates.get(key) === hash) return;
  await createOrGet(ctx.d.client, TEMPLATE, template);
  ctx.templates.set(key, hash);
}

function templateFor(ctx: ApplyContext, purpose: WorkflowPurpose): Promise<string> {
  let name = ctx.passTemplates.get(purpose);
  if (!name) {
    name = ensureTemplateFor(ctx, purpose);
    ctx.passTemplates.set(purpose, name);
  }
  return name;
}

async function ensureTemplateFor(ctx: ApplyContext, purpose: WorkflowPurpose): Promise<string> {
  const { spec, ref } = ctx;
  const timeoutSeconds = parseDuration(spec.provisioning.attemptTimeout) / 1000;
  if (purpose === "wipe") {
    const mode = spec.provisioning.wipeMode === "Full" ? "Full" : "Metadata";
    await ensureTemplate(ctx, buildWipeTemplate(ref.namespace, mode, timeoutSeconds));
    return wipeTemplateName(mode);
  }
  if (spec.provisioning.templateRef) return spec.provisioning.templateRef;
  await ensureTemplate(ctx, buildProvisionTemplate(ref.name, ref.namespace, spec, timeoutSeconds));
  return provisionTemplateName(ref.name);
}

/** A Workflow makes the server boot into the provisioning OS and write its disk: held and leading first. */
async function startWorkflow(
  ctx: ApplyContext,
  m: MemberView,
  purpose: WorkflowPurpose,
  attempt: number,
): Promise<Workflow> {
  const template = await templateFor(ctx, purpose);
  assertLeading(ctx);
  const hw = await assertHeld(ctx, m, purpose === "wipe");
  const wf = buildWorkflow({
    hw,
    poolUID: ctx.ref.uid,
    poolName: ctx.ref.name,
    template,
    purpose,
    attempt,
    netbootViaBmc: ctx.spec.provisioning.power === "TinkerbellBMC" && Boolean(hw.spec.bmcRef),
  });
  const created = await createOrGet(ctx.d.client, WORKFLOW, wf);
  ctx.d.workflows.upsertLocal(created);
  return created;
}

async function createMachineDeployment(ctx: ApplyContext, m: MemberView, attempt: number): Promise<void> {
  const hw = await assertHeld(ctx, m, false);
  const md = buildMachineDeployment(ctx.ref, ctx.spec, hw, ctx.target.namespace, attempt);
  try {
    await ctx.target.client.create(MACHINE_DEPLOYMENT, md);
  } catch (err) {
    if (isAlreadyExists(err)) return;
    throw err;
  }
  ctx.d.event(
    ctx.pool,
    "Normal",
    "MachineDeploymentCreated",
    `created MachineDeployment ${md.metadata.name} for Hardware ${name(m)}`,
  );
}

function deleteMachineDeployment(ctx: ApplyContext, m: MemberView): Promise<void> {
  if (!m.md) return Promise.resolve();
  return ctx.target.client.delete(MACHINE_DEPLOYMENT, ctx.target.namespace, m.md.metadata.name ?? "", {
    uid: m.md.metadata.uid,
  });
}

/**
 * machine-controller creates one Workflow per Machine and never notices a failure, so a retry is a new
 * MachineDeployment. The attempt count goes somewhere that outlives the MachineDeployment first: the failed
 * Workflow's label, or (no Workflow) the Hardware.
 */
async function replaceMachineDeployment(
  ctx: ApplyContext,
  m: MemberView,
  failed: Workflow | undefined,
  reason: string,
): Promise<void> {
  if (failed && failed.metadata.labels?.[LABEL.attempt] !== String(m.attempt)) {
    await ctx.d.client.patch(
      WORKFLOW,
      failed.metadata.namespace,
      failed.metadata.name ?? "",
      { metadata: { labels: { [LABEL.attempt]: String(m.attempt) } } },
      "merge",
    );
  } else if (!failed) {
    await recordFailure(ctx, m, m.attempt, reason);
  }
  ctx.d.event(
    ctx.pool,
    "Warning",
    "ProvisioningFailed",
    `Hardware ${name(m)}: ${reason}; replacing its MachineDeployment`,
  );
  await deleteMachineDeployment(ctx, m);
}

async function recordFailure(
  ctx: ApplyContext,
  m: MemberView,
  attempt: number,
  reason: string,
): Promise<void> {
  ctx.d.hardware.upsertLocal(
    await updateClaimed(ctx.d.client, m.hw, ctx.ref, (hw) => {
      hw.metadata.annotations = {
        ...hw.metadata.annotations,
        [ANNOTATION.attempts]: String(attempt),
        [ANNOTATION.lastFailure]: ctx.d.now().toISOString(),
        [ANNOTATION.lastError]: reason.slice(0, 1024),
      };
    }),
  );
}

/** Records a failed attempt (when given) and clears what machine-controller left on the Hardware. */
async function clearHardwareState(
  ctx: ApplyContext,
  m: MemberView,
  failure: { attempt: number; reason: string } | undefined,
): Promise<void> {
  ctx.d.hardware.upsertLocal(
    await updateClaimed(ctx.d.client, m.hw, ctx.ref, (hw) => {
      if (failure)
        hw.metadata.annotations = {
          ...hw.metadata.annotations,
          [ANNOTATION.attempts]: String(failure.attempt),
          [ANNOTATION.lastFailure]: ctx.d.now().toISOString(),
          [ANNOTATION.lastError]: failure.reason.slice(0, 1024),
        };
      if (hw.spec.metadata) {
        delete hw.spec.metadata.state;
        if (hw.spec.metadata.instance) delete hw.spec.metadata.instance.id;
      }
    }),
  );
  if (failure)
    ctx.d.event(ctx.pool, "Warning", "ProvisioningFailed", `Hardware ${name(m)}: ${failure.reason}`);
}

/**
 * The one-time PXE boot, at most once per Workflow: the Workflow is read fresh (never power-cycle one that
 * runs), the claim is read fresh, and the intent is recorded on the Workflow (resourceVersion-guarded)
 * before the BMC is asked, so neither a lagging cache, a crash nor a second replica asks twice. A failed
 * request clears the intent and counts the failure, for the planner's backoff.
 */
async function powerIntoPxe(ctx: ApplyContext, m: MemberView, wfName: string): Promise<void> {
  const { client } = ctx.d;
  assertLeading(ctx);
  const fresh = await client.getOrNull<Workflow>(WORKFLOW, m.hw.metadata.namespace, wfName);
  if (!fresh) return;
  const annotations = fresh.metadata.annotations ?? {};
  const state = workflowState(fresh);
  if (annotations[ANNOTATION.powerRequested] || (state && state !== "PENDING" && state !== "PREPARING"))
    return;
  const hw = await assertHeld(ctx, m, fresh.metadata.labels?.[LABEL.purpose] === "wipe");
  const now = ctx.d.now().toISOString();
  const marked = await client.patch<Workflow>(
    WORKFLOW,
    fresh.metadata.namespace,
    wfName,
    {
      metadata: {
        resourceVersion: fresh.metadata.resourceVersion,
        annotations: { [ANNOTATION.powerRequested]: now },
      },
    },
    "merge",
  );
  ctx.d.workflows.upsertLocal(marked);
  assertLeading(ctx);
  try {
    await ctx.d.power(ctx.spec.provisioning.power).netbootOnce(hw, wfName);
  } catch (err) {
    const failures = (Number(annotations[ANNOTATION.powerFailures] ?? 0) || 0) + 1;
    const patch = {
      metadata: {
        annotations: {
          [ANNOTATION.powerRequested]: null,
          [ANNOTATION.powerFailures]: String(failures),
          [ANNOTATION.powerFailedAt]: ctx.d.now().toISOString(),
        },
      },
    };
    ctx.d.workflows.upsertLocal(
      await client.patch<Workflow>(WORKFLOW, fresh.metadata.namespace, wfName, patch, "merge"),
    );
    throw err;
  }
}

/**
 * Powers a released server off: held and marked for release, intent recorded first, failures counted. A
 * request that has not run yet (a rufio Job waiting) is asked about again on later passes (the same key
 * finds the same Job) and the claim is kept until it ran: the release drops the claim only once the
 * power-off is recorded done, so a power-off Job never runs on a server that is free or another pool's by
 * then. One that does not run within attemptTimeout counts as a failed request.
 */
async function powerOff(ctx: ApplyContext, m: MemberView): Promise<void> {
  assertLeading(ctx);
  const asked = m.hw.metadata.annotations?.[ANNOTATION.powerOffRequested];
  const marked = asked
    ? await assertHeld(ctx, m, true) // re-asking creates the Job again if it is gone: held first
    : await updateClaimed(ctx.d.client, m.hw, ctx.ref, (hw) => {
        requireReleasing(hw);
        hw.metadata.annotations = {
          ...hw.metadata.annotations,
          [ANNOTATION.powerOffRequested]: ctx.d.now().toISOString(),
        };
      });
  ctx.d.hardware.upsertLocal(marked);
  assertLeading(ctx);
  try {
    const progress = await ctx.d.power(ctx.spec.provisioning.power).powerOff(marked, claimKey("poweroff", m));
    if (progress === "pending") {
      const since = Date.parse(marked.metadata.annotations?.[ANNOTATION.powerOffRequested] ?? "");
      const timeout = ctx.spec.provisioning.attemptTimeout;
      if (ctx.d.now().getTime() - since > parseDuration(timeout))
        throw new Error(`the BMC did not power Hardware ${name(m)} off within ${timeout}`);
      return;
    }
  } catch (err) {
    const failures = (Number(m.hw.metadata.annotations?.[ANNOTATION.powerOffFailures] ?? 0) || 0) + 1;
    ctx.d.hardware.upsertLocal(
      await updateClaimed(ctx.d.client, marked, ctx.ref, (hw) => {
        const annotations = { ...hw.metadata.annotations };
        delete annotations[ANNOTATION.powerOffRequested];
        annotations[ANNOTATION.powerOffFailures] = String(failures);
        annotations[ANNOTATION.powerOffFailedAt] = ctx.d.now().toISOString();
        hw.metadata.annotations = annotations;
      }),
    );
    ctx.d.event(
      ctx.pool,
      "Warning",
      "PowerOffFailed",
      `Hardware ${name(m)}: ${errorText(err)} (${failures} failed)`,
    );
    throw err;
  }
  ctx.d.hardware.upsertLocal(
    await updateClaimed(ctx.d.client, marked, ctx.ref, (hw) => {
      requireReleasing(hw);
      hw.metadata.annotations = {
        ...hw.metadata.annotations,
        [ANNOTATION.poweredOff]: ctx.d.now().toISOString(),
      };
    }),
  );
}

/**
 * Takes a server out of service: its objects are deleted, it is powered off where a BMC can (best effort,
 * while still held), the claim dropped and the reason recorded. Its disk is not wiped: a person looks first.
 * A power-off Job rufio has not run when the claim drops is collected as an orphan (it could otherwise power
 * the server off after a person returned it to service), and until then no pool claims the server.
 */
async function quarantineMember(ctx: ApplyContext, m: MemberView, reason: string): Promise<void> {
  await deleteMachineDeployment(ctx, m);
  for (const wf of [...m.workflows, ...(m.wipe ? [m.wipe] : [])])
    await deleteObject(ctx.d.client, WORKFLOW, wf);
  if (ctx.spec.provisioning.power !== "Manual") {
    try {
      assertLeading(ctx);
      const hw = await assertClaimed(ctx.d.client, m.hw, ctx.ref);
      await ctx.d.power(ctx.spec.provisioning.power).powerOff(hw, claimKey("quarantine", m));
    } catch (err) {
      ctx.d.log.warn(
        { pool: ctx.ref.name, hardware: name(m), err: errorText(err) },
        "power-off before quarantine failed",
      );
    }
  }
  ctx.d.hardware.upsertLocal(await quarantine(ctx.d.client, m.hw, ctx.ref, reason));
  ctx.d.event(ctx.pool, "Warning", "Quarantined", `quarantined Hardware ${name(m)}: ${reason}`);
}
