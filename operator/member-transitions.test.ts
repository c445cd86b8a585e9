import { describe, expect, it } from "vitest";
import { baremetalPoolSpecSchema, type MemberPhase } from "../lib/api/baremetalpool.ts";
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import type { Hardware, Workflow } from "../lib/api/tinkerbell.ts";
import {
  failureReason,
  memberTransitions,
  recalled,
  type MemberEvent,
  type MemberMemory,
} from "./member-transitions.ts";
import { plan } from "./pool/plan.ts";
import type { MemberView, ObservedMember } from "./pool/types.ts";

const T0 = Date.parse("2026-12-01T00:00:00Z");
const MIN = 60_000;
const iso = (ms: number): string => new Date(ms).toISOString();

function hw(annotations: Record<string, string> = {}): Hardware {
  return {
    metadata: {
      name: "s1",
      namespace: "ns",
      labels: { [LABEL.poolUID]: "uid" },
      annotations: { [ANNOTATION.claimedAt]: iso(T0), ...annotations },
    },
    spec: { interfaces: [{ dhcp: { mac: "52:54:00:00:00:01" } }], disks: [{ device: "/dev/sda" }] },
  };
}

function wf(
  state: string | undefined,
  annotations: Record<string, string> = {},
  purpose = "provision",
): Workflow {
  return {
    metadata: { name: `s1-${purpose}`, namespace: "ns", labels: { [LABEL.purpose]: purpose }, annotations },
    spec: { templateRef: "t", hardwareRef: "s1" },
    ...(state ? { status: { state } } : {}),
  };
}

interface Shape {
  phase: MemberPhase;
  attempts: number;
  lastError?: string;
  left?: boolean;
  workflows?: Workflow[];
  wipe?: Workflow;
  releasing?: boolean;
  annotations?: Record<string, string>;
}

function observed(s: Shape): ObservedMember {
  const view: MemberView = {
    hw: hw(s.annotations),
    md: undefined,
    machines: 0,
    workflows: s.workflows ?? [],
    wipe: s.wipe,
    attempt: s.attempts,
    releasing: s.releasing ?? false,
    phase: s.phase,
  };
  return {
    view,
    phase: s.phase,
    attempts: s.attempts,
    left: s.left ?? false,
    ...(s.lastError ? { lastError: s.lastError } : {}),
  };
}

/** Feeds passes (at the given minutes after the claim) through the transitions; all events, in order. */
function run(passes: [number, Shape][], manualPower = false): MemberEvent[] {
  let memory: MemberMemory | undefined = { phase: "Claimed", attempts: 0, since: T0, counted: 0 };
  const all: MemberEvent[] = [];
  for (const [minute, shape] of passes) {
    if (!memory) throw new Error("a member that left was observed again");
    const { events, next } = memberTransitions(memory, observed(shape), {
      now: T0 + minute * MIN,
      manualPower,
    });
    all.push(...events);
    memory = next;
  }
  return all;
}

const provisioning = (attempts: number, state = "RUNNING", annotations = {}): Shape => ({
  phase: "Provisioning",
  attempts,
  workflows: [wf(state, annotations)],
});

describe("memberTransitions", () => {
  it("a first attempt that succeeds: one success, claim→Ready time, and the time of each stage", () => {
    expect(
      run([
        [1, provisioning(1, "PENDING")],
        [5, provisioning(1)],
        [12, { phase: "Ready", attempts: 1, workflows: [wf("SUCCESS")] }],
        [30, { phase: "Ready", attempts: 1, workflows: [wf("SUCCESS")] }],
      ]),
    ).toEqual([
      { kind: "phase", phase: "Claimed", seconds: 60 },
      { kind: "attempt", attempt: 1, result: "success" },
      { kind: "claim-to-ready", seconds: 720 },
      { kind: "phase", phase: "Provisioning", seconds: 660 },
    ]);
  });

  it("a failed attempt, its backoff and a successful retry", () => {
    expect(
      run([
        [0, provisioning(1)],
        [
          10,
          { phase: "Failed", attempts: 1, workflows: [wf("FAILED")], lastError: "attempt 1 FAILED: boom" },
        ],
        [
          11,
          { phase: "Failed", attempts: 1, workflows: [wf("FAILED")], lastError: "attempt 1 FAILED: boom" },
        ],
        [12, provisioning(2)],
        [20, { phase: "Ready", attempts: 2, workflows: [wf("SUCCESS")] }],
      ]),
    ).toEqual([
      { kind: "phase", phase: "Claimed", seconds: 0 },
      { kind: "attempt", attempt: 1, result: "failure", reason: "workflow-failed" },
      { kind: "phase", phase: "Provisioning", seconds: 600 },
      { kind: "phase", phase: "Failed", seconds: 120 },
      { kind: "attempt", attempt: 2, result: "success" },
      { kind: "claim-to-ready", seconds: 1200 },
      { kind: "phase", phase: "Provisioning", seconds: 480 },
    ]);
  });

  it("a retry started in the same pass as the failure still counts the failure, reasoned from its Workflow", () => {
    const events = run([
      [0, provisioning(1)],
      [11, { phase: "Provisioning", attempts: 2, workflows: [wf("TIMEOUT")] }],
    ]);
    expect(events).toContainEqual({ kind: "attempt", attempt: 1, result: "failure", reason: "timeout" });
    expect(events).toContainEqual({ kind: "phase", phase: "Provisioning", seconds: 660 });
  });

  it("the last attempt failing quarantines in the same pass: a failure, then the quarantine", () => {
    expect(
      run([
        [0, provisioning(3)],
        [
          10,
          {
            phase: "Failed",
            attempts: 3,
            left: true,
            workflows: [wf("RUNNING")],
            lastError: "attempt 3 did not finish within 10m",
          },
        ],
      ]).filter((e) => e.kind !== "phase"),
    ).toEqual([
      { kind: "attempt", attempt: 3, result: "failure", reason: "timeout" },
      { kind: "quarantine", reason: "attempts-exhausted" },
    ]);
  });

  it("scale-down: a wiped and powered-off server is released, a failed wipe quarantines", () => {
    const base: Shape = { phase: "Deprovisioning", attempts: 1, releasing: true };
    const released = run([
      [0, { phase: "Ready", attempts: 1 }],
      [60, base],
      [
        70,
        {
          ...base,
          left: true,
          wipe: wf("SUCCESS", {}, "wipe"),
          annotations: { [ANNOTATION.powerOffRequested]: iso(T0) },
        },
      ],
    ]);
    expect(released.slice(-3)).toEqual([
      { kind: "phase", phase: "Deprovisioning", seconds: 600 },
      { kind: "wipe", result: "success" },
      { kind: "release", result: "success" },
    ]);
    const wipeFailed = run([[0, { ...base, left: true, wipe: wf("FAILED", {}, "wipe") }]]);
    expect(wipeFailed.filter((e) => e.kind !== "phase")).toEqual([
      { kind: "wipe", result: "failure" },
      { kind: "quarantine", reason: "wipe-failed" },
    ]);
  });

  it("deprovisioning is one stage even when deleting its Workflows makes the attempt count drop", () => {
    const base: Shape = { phase: "Deprovisioning", attempts: 1, releasing: true };
    const events = run([
      [0, { phase: "Ready", attempts: 1 }],
      [10, base],
      [11, { ...base, attempts: 0 }],
      [12, { ...base, attempts: 0, wipe: wf("RUNNING", {}, "wipe") }],
      [15, { ...base, attempts: 0, left: true, wipe: wf("SUCCESS", {}, "wipe") }],
    ]);
    expect(events.filter((e) => e.kind === "phase" && e.phase === "Deprovisioning")).toEqual([
      { kind: "phase", phase: "Deprovisioning", seconds: 300 },
    ]);
    expect(events.filter((e) => e.kind === "attempt")).toEqual([
      { kind: "attempt", attempt: 1, result: "success" },
    ]);
  });

  it("a release without a successful power-off is a failed release, except where power is manual", () => {
    const leaving: Shape = { phase: "Deprovisioning", attempts: 1, releasing: true, left: true };
    expect(run([[0, leaving]]).at(-1)).toEqual({ kind: "release", result: "failure" });
    expect(run([[0, leaving]], true).at(-1)).toEqual({ kind: "release", result: "success" });
  });

  it("counts nothing when nothing changed, and never the same outcome twice", () => {
    const ready: Shape = { phase: "Ready", attempts: 1, workflows: [wf("SUCCESS")] };
    const events = run([
      [0, provisioning(1)],
      [5, ready],
      // machine-controller mode: the Node went NotReady and came back
      [6, { ...provisioning(1), workflows: [wf("SUCCESS")] }],
      [7, ready],
    ]);
    expect(events.filter((e) => e.kind === "attempt")).toHaveLength(1);
    expect(events.filter((e) => e.kind === "claim-to-ready")).toHaveLength(1);
  });
});

describe("recalled: a member first seen by this process starts from the pool's status", () => {
  const m = observed({ phase: "Ready", attempts: 1, workflows: [wf("SUCCESS")] });
  const ctx = { now: T0 + 20 * MIN, manualPower: false };

  it("a transition the previous leader recorded is not counted again", () => {
    const prev = recalled({ phase: "Ready", attempts: 1, since: iso(T0 + 10 * MIN) }, m, ctx.now);
    expect(memberTransitions(prev, m, ctx).events).toEqual([]);
  });

  it("one it never recorded is counted, with the phase time from the status's since", () => {
    const prev = recalled({ phase: "Provisioning", attempts: 1, since: iso(T0 + 5 * MIN) }, m, ctx.now);
    expect(memberTransitions(prev, m, ctx).events).toEqual([
      { kind: "attempt", attempt: 1, result: "success" },
      { kind: "claim-to-ready", seconds: 1200 },
      { kind: "phase", phase: "Provisioning", seconds: 900 },
    ]);
  });

  it("a failure already shown as Failed is not counted again", () => {
    const failed = observed({ phase: "Failed", attempts: 2, workflows: [wf("FAILED")], lastError: "x" });
    const prev = recalled({ phase: "Failed", attempts: 2, since: iso(T0) }, failed, ctx.now);
    expect(memberTransitions(prev, failed, ctx).events).toEqual([]);
  });

  it("without a status entry it is a fresh claim, timed from the claimed-at annotation", () => {
    expect(recalled(undefined, m, ctx.now)).toEqual({ phase: "Claimed", attempts: 0, since: T0, counted: 0 });
  });
});

describe("failureReason", () => {
  const failed = (s: Partial<Shape>): ObservedMember => observed({ phase: "Failed", attempts: 1, ...s });

  it("tells the closed set of reasons apart", () => {
    expect(failureReason(failed({ workflows: [wf("FAILED")], lastError: "attempt 1 FAILED: x" }))).toBe(
      "workflow-failed",
    );
    expect(failureReason(failed({ workflows: [wf("TIMEOUT")], lastError: "attempt 1 TIMEOUT: x" }))).toBe(
      "timeout",
    );
    expect(
      failureReason(failed({ workflows: [wf("RUNNING")], lastError: "attempt 1 did not finish within 45m" })),
    ).toBe("timeout");
    expect(
      failureReason(failed({ lastError: "attempt 1: machine-controller created no Workflow within 45m" })),
    ).toBe("timeout");
    expect(
      failureReason(
        failed({
          workflows: [wf("PENDING", { [ANNOTATION.powerFailures]: "3" })],
          lastError: "attempt 1 did not finish within 45m",
        }),
      ),
    ).toBe("power-failed");
    expect(failureReason(failed({ lastError: "something new" }))).toBe("other");
  });

  it("recognizes the planner's own message for a server without a BMC", () => {
    const spec = baremetalPoolSpecSchema.parse({
      replicas: 1,
      template: { osImageURL: "http://x/y.raw", kubeletVersion: "1.33.4" },
      provisioning: { workflowOwner: "Operator", power: "TinkerbellBMC" },
    });
    const view = observed({ phase: "Claimed", attempts: 0 }).view;
    const p = plan(
      {
        pool: { metadata: { name: "p", namespace: "ns", uid: "uid" }, spec },
        ref: { name: "p", namespace: "ns", uid: "uid" },
        spec,
        deleting: false,
        members: [view],
        eligible: [],
        selected: [view.hw],
        retryBackoffMs: MIN,
      },
      T0,
    );
    const planned = p.members[0];
    expect(planned?.phase).toBe("Failed");
    const member: ObservedMember = {
      view,
      phase: planned?.phase ?? "Claimed",
      attempts: planned?.attempts ?? 0,
      left: false,
      ...(planned?.lastError ? { lastError: planned.lastError } : {}),
    };
    expect(failureReason(member)).toBe("missing-bmc");
    const fresh: MemberMemory = { phase: "Claimed", attempts: 0, since: T0, counted: 0 };
    expect(memberTransitions(fresh, member, { now: T0, manualPower: false }).events).toContainEqual({
      kind: "attempt",
      attempt: 1,
      result: "failure",
      reason: "missing-bmc",
    });
  });
});
