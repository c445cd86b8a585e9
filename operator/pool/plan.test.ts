/**
 * The planner without a cluster: every phase against the events that move it (table tests), and
 * properties over random views (never acts on a server the pool does not hold, never exceeds
 * maxConcurrent, and once the world matches the plan, planning again only waits).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { baremetalPoolSpecSchema, type BaremetalPoolSpec } from "../../lib/api/baremetalpool.ts";
import { ANNOTATION, LABEL } from "../../lib/api/labels.ts";
import type { MachineDeployment } from "../../lib/api/machine-controller.ts";
import type { Hardware, Workflow } from "../../lib/api/tinkerbell.ts";
import { workflowName } from "../provision/workflow.ts";
import { phaseOf } from "./phase.ts";
import { plan } from "./plan.ts";
import type { Action, MemberView, PoolView } from "./types.ts";

const UID = "pool-uid";
const T0 = Date.parse("2026-12-01T00:00:00Z");
const iso = (ms: number): string => new Date(ms).toISOString();
const MIN = 60_000;

function spec(
  provisioning: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): BaremetalPoolSpec {
  return baremetalPoolSpecSchema.parse({
    replicas: 1,
    template: { osImageURL: "http://x/y.raw", kubeletVersion: "1.33.4" },
    provisioning: {
      workflowOwner: "Operator",
      power: "Redfish",
      attemptTimeout: "10m",
      maxAttempts: 3,
      ...provisioning,
    },
    ...extra,
  });
}

function server(
  name: string,
  opts: { claimed?: boolean; annotations?: Record<string, string>; bmc?: boolean } = {},
): Hardware {
  return {
    metadata: {
      name,
      namespace: "ns",
      labels: opts.claimed === false ? {} : { [LABEL.poolUID]: UID },
      annotations: opts.annotations ?? {},
    },
    spec: {
      ...(opts.bmc === false
        ? {}
        : { bmcRef: { apiGroup: "bmc.tinkerbell.org", kind: "Machine", name: `${name}-bmc` } }),
      disks: [{ device: "/dev/sda" }],
      interfaces: [{ dhcp: { mac: "52:54:00:00:00:01", arch: "x86_64", uefi: true } }],
    },
  };
}

function workflow(
  hw: string,
  attempt: number,
  state?: string,
  opts: {
    created?: number;
    annotations?: Record<string, string>;
    purpose?: "provision" | "wipe";
    mc?: boolean;
  } = {},
): Workflow {
  const purpose = opts.purpose ?? "provision";
  return {
    metadata: {
      name: opts.mc ? `${hw}-mc` : workflowName({ metadata: { name: hw }, spec: {} }, purpose, attempt),
      namespace: "ns",
      uid: `${hw}-${purpose}-${attempt}`,
      creationTimestamp: iso(opts.created ?? T0),
      labels: opts.mc
        ? { [LABEL.mcHardwareRef]: hw }
        : {
            [LABEL.poolUID]: UID,
            [LABEL.hardware]: hw,
            [LABEL.purpose]: purpose,
            [LABEL.attempt]: String(attempt),
          },
      annotations: opts.annotations ?? {},
    },
    spec: { templateRef: "t", hardwareRef: hw },
    ...(state ? { status: { state } } : {}),
  };
}

function machineDeployment(
  hw: string,
  attempt: number,
  opts: { created?: number; ready?: boolean; deleting?: boolean } = {},
): MachineDeployment {
  return {
    metadata: {
      name: `p-${hw}`,
      namespace: "ns",
      uid: `md-${hw}-${attempt}`,
      creationTimestamp: iso(opts.created ?? T0),
      annotations: { [LABEL.attempt]: String(attempt) },
      ...(opts.deleting ? { deletionTimestamp: iso(T0) } : {}),
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: {} },
      template: {
        metadata: { labels: {} },
        spec: { providerSpec: { value: {} }, versions: { kubelet: "1.33.4" } },
      },
    },
    ...(opts.ready === undefined ? {} : { status: { replicas: 1, readyReplicas: opts.ready ? 1 : 0 } }),
  };
}

interface MemberInput {
  hw: Hardware;
  md?: MachineDeployment;
  machines?: number;
  workflows?: Workflow[];
  wipe?: Workflow;
}

function member(s: BaremetalPoolSpec, m: MemberInput): MemberView {
  const workflows = m.workflows ?? [];
  const attempt = Math.max(
    0,
    Number(m.hw.metadata.annotations?.[ANNOTATION.attempts] ?? 0),
    Number(m.md?.metadata.annotations?.[LABEL.attempt] ?? 0),
    ...workflows.map((w) => Number(w.metadata.labels?.[LABEL.attempt] ?? 0)),
  );
  const releasing = Boolean(m.hw.metadata.annotations?.[ANNOTATION.releasing]);
  const lastError = m.hw.metadata.annotations?.[ANNOTATION.lastError];
  return {
    hw: m.hw,
    md: m.md,
    machines: m.machines ?? 0,
    workflows,
    wipe: m.wipe,
    attempt,
    releasing,
    phase: phaseOf({
      releasing,
      machineControllerOwns: s.provisioning.workflowOwner === "MachineController",
      md: m.md,
      workflows,
      attempt,
    }),
    ...(lastError ? { lastError } : {}),
  };
}

function view(
  s: BaremetalPoolSpec,
  members: MemberInput[],
  opts: { free?: Hardware[]; deleting?: boolean } = {},
): PoolView {
  return {
    pool: { metadata: { name: "p", namespace: "ns", uid: UID }, spec: s },
    ref: { name: "p", namespace: "ns", uid: UID },
    spec: s,
    deleting: opts.deleting ?? false,
    members: members.map((m) => member(s, m)),
    eligible: opts.free ?? [],
    selected: [...members.map((m) => m.hw), ...(opts.free ?? [])],
    retryBackoffMs: MIN,
  };
}

/** Actions as short strings, so a table row reads like the behaviour it pins. */
const kinds = (actions: readonly Action[]): string[] =>
  actions
    .filter((a) => a.kind !== "wait")
    .map((a) => `${a.kind}:${a.kind === "claim" ? a.hw.metadata.name : a.member.hw.metadata.name}`);

const releasing = { [ANNOTATION.releasing]: iso(T0) };

describe("the member table, operator-owned provisioning with Redfish power", () => {
  const s = spec();
  const rows: [string, MemberInput[], number, string[]][] = [
    [
      "a new member starts attempt 1 and powers into PXE",
      [{ hw: server("a") }],
      T0,
      ["startWorkflow:a", "powerIntoPxe:a"],
    ],
    [
      "a PENDING Workflow that was never powered is powered",
      [{ hw: server("a"), workflows: [workflow("a", 1, "PENDING")] }],
      T0,
      ["powerIntoPxe:a"],
    ],
    [
      "a powered Workflow is not powered again",
      [
        {
          hw: server("a"),
          workflows: [workflow("a", 1, "PENDING", { annotations: { [ANNOTATION.powerRequested]: iso(T0) } })],
        },
      ],
      T0,
      [],
    ],
    [
      "a RUNNING Workflow is never power-cycled",
      [{ hw: server("a"), workflows: [workflow("a", 1, "RUNNING")] }],
      T0,
      [],
    ],
    [
      "a SUCCESS Workflow is Ready: nothing to do",
      [{ hw: server("a"), workflows: [workflow("a", 1, "SUCCESS")] }],
      T0,
      [],
    ],
    [
      "a FAILED attempt waits for its backoff",
      [{ hw: server("a"), workflows: [workflow("a", 1, "FAILED")] }],
      T0 + 30_000,
      [],
    ],
    [
      "a FAILED attempt is retried once the backoff passed",
      [{ hw: server("a"), workflows: [workflow("a", 1, "FAILED")] }],
      T0 + 2 * MIN,
      ["retry:a", "powerIntoPxe:a"],
    ],
    [
      "an overdue attempt is retried",
      [{ hw: server("a"), workflows: [workflow("a", 1, "RUNNING")] }],
      T0 + 11 * MIN,
      ["retry:a", "powerIntoPxe:a"],
    ],
    [
      "the last attempt failing quarantines",
      [{ hw: server("a"), workflows: [workflow("a", 3, "TIMEOUT")] }],
      T0,
      ["quarantine:a"],
    ],
    [
      "a failed power request backs off",
      [
        {
          hw: server("a"),
          workflows: [
            workflow("a", 1, "PENDING", {
              annotations: { [ANNOTATION.powerFailures]: "2", [ANNOTATION.powerFailedAt]: iso(T0) },
            }),
          ],
        },
      ],
      T0 + MIN,
      [],
    ],
    [
      "a failed power request is retried after its backoff",
      [
        {
          hw: server("a"),
          workflows: [
            workflow("a", 1, "PENDING", {
              annotations: { [ANNOTATION.powerFailures]: "1", [ANNOTATION.powerFailedAt]: iso(T0) },
            }),
          ],
        },
      ],
      T0 + 2 * MIN,
      ["powerIntoPxe:a"],
    ],
  ];
  it.each(rows)("%s", (_what, members, now, expected) => {
    expect(kinds(plan(view(s, members), now).actions)).toEqual(expected);
  });
});

describe("the member table, deprovisioning", () => {
  const s = spec({ wipeMode: "Metadata" }, { replicas: 0 });
  const rows: [string, MemberInput[], number, string[]][] = [
    [
      "Workflows go first",
      [{ hw: server("a", { annotations: releasing }), workflows: [workflow("a", 1, "RUNNING")] }],
      T0,
      ["deleteWorkflows:a"],
    ],
    [
      "then the wipe starts and powers into PXE",
      [{ hw: server("a", { annotations: releasing }) }],
      T0,
      ["startWipe:a", "powerIntoPxe:a"],
    ],
    [
      "a running wipe is waited for",
      [
        {
          hw: server("a", { annotations: releasing }),
          wipe: workflow("a", 0, "RUNNING", { purpose: "wipe" }),
        },
      ],
      T0,
      [],
    ],
    [
      "a failed wipe quarantines (no dirty disk is handed out)",
      [
        {
          hw: server("a", { annotations: releasing }),
          wipe: workflow("a", 0, "FAILED", { purpose: "wipe" }),
        },
      ],
      T0,
      ["quarantine:a"],
    ],
    [
      "an overdue wipe quarantines",
      [
        {
          hw: server("a", { annotations: releasing }),
          wipe: workflow("a", 0, "RUNNING", { purpose: "wipe" }),
        },
      ],
      T0 + 11 * MIN,
      ["quarantine:a"],
    ],
    [
      "a finished wipe is followed by power-off",
      [
        {
          hw: server("a", { annotations: releasing }),
          wipe: workflow("a", 0, "SUCCESS", { purpose: "wipe" }),
        },
      ],
      T0,
      ["powerOff:a"],
    ],
    [
      "a power-off asked for but not seen done yet (a rufio Job waiting) keeps the claim and looks again",
      [
        {
          hw: server("a", { annotations: { ...releasing, [ANNOTATION.powerOffRequested]: iso(T0) } }),
          wipe: workflow("a", 0, "SUCCESS", { purpose: "wipe" }),
        },
      ],
      T0,
      ["powerOff:a"],
    ],
    [
      "and once powered off, the release",
      [
        {
          hw: server("a", {
            annotations: {
              ...releasing,
              [ANNOTATION.powerOffRequested]: iso(T0),
              [ANNOTATION.poweredOff]: iso(T0),
            },
          }),
          wipe: workflow("a", 0, "SUCCESS", { purpose: "wipe" }),
        },
      ],
      T0,
      ["release:a"],
    ],
    [
      "a BMC that keeps refusing power-off does not hold the server forever",
      [
        {
          hw: server("a", {
            annotations: {
              ...releasing,
              [ANNOTATION.powerOffFailures]: "3",
              [ANNOTATION.powerOffFailedAt]: iso(T0),
            },
          }),
          wipe: workflow("a", 0, "SUCCESS", { purpose: "wipe" }),
        },
      ],
      T0,
      ["release:a"],
    ],
  ];
  it.each(rows)("%s", (_what, members, now, expected) => {
    expect(kinds(plan(view(s, members), now).actions)).toEqual(expected);
  });

  it("with machine-controller: MachineDeployment, then its Machine, before anything else", () => {
    const mc = spec(
      { workflowOwner: "MachineController", power: "TinkerbellBMC", wipeMode: "None" },
      { replicas: 0 },
    );
    const hw = server("a", { annotations: releasing });
    expect(kinds(plan(view(mc, [{ hw, md: machineDeployment("a", 1) }]), T0).actions)).toEqual([
      "deleteMachineDeployment:a",
    ]);
    expect(
      kinds(plan(view(mc, [{ hw, md: machineDeployment("a", 1, { deleting: true }) }]), T0).actions),
    ).toEqual([]);
    expect(kinds(plan(view(mc, [{ hw, machines: 1 }]), T0).actions)).toEqual([]);
    expect(kinds(plan(view(mc, [{ hw }]), T0).actions)).toEqual(["powerOff:a"]);
  });
});

describe("the member table, machine-controller owns the Workflows", () => {
  const s = spec({ workflowOwner: "MachineController", power: "TinkerbellBMC" });
  it("creates the MachineDeployment, then powers machine-controller's Workflow into PXE", () => {
    expect(kinds(plan(view(s, [{ hw: server("a") }]), T0).actions)).toEqual(["createMachineDeployment:a"]);
    const withWf = view(s, [
      {
        hw: server("a"),
        md: machineDeployment("a", 1, { ready: false }),
        workflows: [workflow("a", 0, undefined, { mc: true })],
      },
    ]);
    expect(kinds(plan(withWf, T0).actions)).toEqual(["powerIntoPxe:a"]);
  });
  it("fails an attempt whose Workflow never appears, and replaces the MachineDeployment", () => {
    const v = view(s, [{ hw: server("a"), md: machineDeployment("a", 1) }]);
    expect(kinds(plan(v, T0 + 5 * MIN).actions)).toEqual([]);
    const late = plan(v, T0 + 11 * MIN);
    expect(kinds(late.actions)).toEqual(["replaceMachineDeployment:a"]);
    expect(late.members[0]?.lastError).toBe("attempt 1: machine-controller created no Workflow within 10m");
  });
  it("after a failure: waits for the Machine, clears the Hardware, then (after backoff) a new MachineDeployment", () => {
    const failed = workflow("a", 1, "FAILED", { mc: true });
    failed.metadata.labels = { ...failed.metadata.labels, [LABEL.attempt]: "1" };
    expect(kinds(plan(view(s, [{ hw: server("a"), machines: 1, workflows: [failed] }]), T0).actions)).toEqual(
      [],
    );
    expect(kinds(plan(view(s, [{ hw: server("a"), workflows: [failed] }]), T0).actions)).toEqual([
      "clearHardwareState:a",
      "deleteWorkflows:a",
    ]);
    const recorded = server("a", {
      annotations: { [ANNOTATION.attempts]: "1", [ANNOTATION.lastFailure]: iso(T0) },
    });
    expect(kinds(plan(view(s, [{ hw: recorded }]), T0 + 30_000).actions)).toEqual([]);
    const next = plan(view(s, [{ hw: recorded }]), T0 + 2 * MIN);
    expect(next.actions.find((a) => a.kind === "createMachineDeployment")).toMatchObject({ attempt: 2 });
  });
  it("without a bmcRef, an attempt fails with a message instead of a MachineDeployment", () => {
    const p = plan(view(s, [{ hw: server("a", { bmc: false }) }]), T0);
    expect(p.actions).toHaveLength(1);
    expect(p.actions[0]).toMatchObject({
      kind: "clearHardwareState",
      failure: {
        attempt: 1,
        reason: "Hardware a has no spec.bmcRef; add a bmc.tinkerbell.org Machine or set provisioning.power",
      },
    });
    expect(p.members[0]).toMatchObject({ phase: "Failed" });
  });
  it("is Ready only once the Node is", () => {
    const wf = workflow("a", 0, "SUCCESS", { mc: true });
    expect(
      plan(
        view(s, [{ hw: server("a"), md: machineDeployment("a", 1, { ready: false }), workflows: [wf] }]),
        T0,
      ).members[0]?.phase,
    ).toBe("Provisioning");
    expect(
      plan(
        view(s, [{ hw: server("a"), md: machineDeployment("a", 1, { ready: true }), workflows: [wf] }]),
        T0,
      ).members[0]?.phase,
    ).toBe("Ready");
  });
  it("turns PXE off once machine-controller's Workflow succeeded (it has no bootOptions), and only then", () => {
    const pxe = (allowPXE: boolean): Hardware => {
      const hw = server("a");
      hw.spec.interfaces = (hw.spec.interfaces ?? []).map((i) => ({ ...i, netboot: { allowPXE } }));
      return hw;
    };
    const at = (state: string, hw: Hardware, ready = false): string[] =>
      kinds(
        plan(
          view(s, [
            {
              hw,
              md: machineDeployment("a", 1, { ready }),
              workflows: [workflow("a", 0, state, { mc: true })],
            },
          ]),
          T0,
        ).actions,
      );
    expect(at("RUNNING", pxe(true))).toEqual([]);
    expect(at("SUCCESS", pxe(true))).toEqual(["disableNetboot:a"]);
    expect(at("SUCCESS", pxe(true), true)).toEqual(["disableNetboot:a"]);
    expect(at("SUCCESS", pxe(false))).toEqual([]);
    // Our own Workflows toggle it through tink-controller: nothing to do here.
    const own = workflow("a", 1, "SUCCESS");
    own.spec.bootOptions = { toggleAllowNetboot: true };
    expect(kinds(plan(view(spec(), [{ hw: pxe(true), workflows: [own] }]), T0).actions)).toEqual([]);
  });
});

describe("pool budgets", () => {
  it("claims up to replicas, marks victims beyond it, and a paused pool does nothing", () => {
    const s = spec({}, { replicas: 3 });
    const p = plan(
      view(s, [{ hw: server("a"), workflows: [workflow("a", 1, "SUCCESS")] }], {
        free: [
          server("x", { claimed: false }),
          server("y", { claimed: false }),
          server("z", { claimed: false }),
        ],
      }),
      T0,
    );
    expect(kinds(p.actions)).toEqual(["claim:x", "claim:y"]);
    const shrink = plan(
      view(spec({}, { replicas: 0 }), [{ hw: server("a"), workflows: [workflow("a", 1, "SUCCESS")] }]),
      T0,
    );
    expect(kinds(shrink.actions)).toEqual(["markReleasing:a"]);
    const paused = plan(view(spec({}, { replicas: 0, paused: true }), [{ hw: server("a") }]), T0);
    expect(paused.actions).toEqual([]);
  });
  it("a deleted pool claims nothing and releases everything, even paused", () => {
    const s = spec({}, { replicas: 2, paused: true });
    const p = plan(
      view(s, [{ hw: server("a") }], { deleting: true, free: [server("x", { claimed: false })] }),
      T0,
    );
    expect(kinds(p.actions)).toEqual(["markReleasing:a"]);
  });
  it("requeues at the earliest deadline: the attempt timeout, the retry backoff", () => {
    const s = spec();
    expect(
      plan(view(s, [{ hw: server("a"), workflows: [workflow("a", 1, "RUNNING")] }]), T0 + MIN).requeueAfterMs,
    ).toBe(9 * MIN);
    expect(
      plan(view(s, [{ hw: server("a"), workflows: [workflow("a", 1, "FAILED")] }]), T0 + 20_000)
        .requeueAfterMs,
    ).toBe(40_000);
    expect(
      plan(view(s, [{ hw: server("a"), workflows: [workflow("a", 1, "SUCCESS")] }]), T0).requeueAfterMs,
    ).toBeUndefined();
  });
  it("an invalid-looking view still never plans beyond maxConcurrent", () => {
    const s = spec({ maxConcurrent: 2 }, { replicas: 6 });
    const p = plan(
      view(
        s,
        ["a", "b", "c", "d", "e", "f"].map((n) => ({ hw: server(n) })),
      ),
      T0,
    );
    expect(p.actions.filter((a) => a.kind === "startWorkflow")).toHaveLength(2);
    expect(p.actions.filter((a) => a.kind === "powerIntoPxe")).toHaveLength(2);
  });
});

// ---- properties over random views ----

const states = [
  undefined,
  "PREPARING",
  "PENDING",
  "RUNNING",
  "POST",
  "SUCCESS",
  "FAILED",
  "TIMEOUT",
] as const;

const memberArb = (mc: boolean): fc.Arbitrary<(name: string) => MemberInput> =>
  fc
    .record({
      releasing: fc.boolean(),
      attempt: fc.integer({ min: 0, max: 4 }),
      state: fc.constantFrom(...states),
      created: fc.integer({ min: -30, max: 0 }),
      powered: fc.boolean(),
      hasMd: fc.boolean(),
      machines: fc.integer({ min: 0, max: 1 }),
      wipeState: fc.constantFrom(...states, "none" as const),
      bmc: fc.boolean(),
    })
    .map((r) => (name: string): MemberInput => {
      const annotations: Record<string, string> = r.powered ? { [ANNOTATION.powerRequested]: iso(T0) } : {};
      const wf =
        r.attempt > 0
          ? [workflow(name, r.attempt, r.state, { created: T0 + r.created * MIN, annotations, mc })]
          : [];
      return {
        hw: server(name, { annotations: r.releasing ? releasing : {}, bmc: r.bmc }),
        ...(mc && r.hasMd
          ? { md: machineDeployment(name, Math.max(1, r.attempt), { created: T0 + r.created * MIN }) }
          : {}),
        machines: mc ? r.machines : 0,
        workflows: wf,
        ...(r.wipeState !== "none" && r.releasing
          ? { wipe: workflow(name, 0, r.wipeState, { purpose: "wipe" }) }
          : {}),
      };
    });

const viewArb = fc
  .record({
    mc: fc.boolean(),
    power: fc.constantFrom("Redfish", "TinkerbellBMC", "Manual"),
    replicas: fc.integer({ min: 0, max: 8 }),
    maxConcurrent: fc.integer({ min: 1, max: 4 }),
    deleting: fc.boolean(),
    free: fc.integer({ min: 0, max: 4 }),
  })
  .chain((c) =>
    fc.array(memberArb(c.mc), { maxLength: 8 }).map((makers) => {
      const s = spec(
        {
          workflowOwner: c.mc ? "MachineController" : "Operator",
          power: c.power,
          maxConcurrent: c.maxConcurrent,
        },
        { replicas: c.replicas },
      );
      const free = Array.from({ length: c.free }, (_, i) => server(`free-${i}`, { claimed: false }));
      return view(
        s,
        makers.map((make, i) => make(`m${i}`)),
        { deleting: c.deleting, free },
      );
    }),
  );

const DESTRUCTIVE = new Set<Action["kind"]>([
  "powerIntoPxe",
  "startWipe",
  "powerOff",
  "release",
  "startWorkflow",
  "retry",
  "createMachineDeployment",
]);

function startedWorkflow(v: PoolView, m: MemberView): Workflow {
  const wf = workflow(m.hw.metadata.name ?? "", m.attempt + 1, "PENDING", { created: T0 });
  wf.spec.bootOptions = {
    toggleAllowNetboot: true,
    ...(v.spec.provisioning.power === "TinkerbellBMC" ? { bootMode: "netboot" as const } : {}),
  };
  return wf;
}

describe("the plan, property-based", () => {
  it("never powers, wipes, provisions or releases a server the pool does not hold, and release/wipe/power-off only a releasing one", () => {
    fc.assert(
      fc.property(viewArb, fc.integer({ min: 0, max: 60 }), (v, minutes) => {
        const held = new Set(v.members.map((m) => m.hw));
        for (const a of plan(v, T0 + minutes * MIN).actions) {
          if (!DESTRUCTIVE.has(a.kind) || a.kind === "claim" || a.kind === "wait") continue;
          expect(held.has(a.member.hw)).toBe(true);
          expect(a.member.hw.metadata.labels?.[LABEL.poolUID]).toBe(UID);
          const needsRelease = a.kind === "startWipe" || a.kind === "powerOff" || a.kind === "release";
          if (needsRelease) expect(a.member.releasing).toBe(true);
          if (a.kind === "startWorkflow" || a.kind === "retry" || a.kind === "createMachineDeployment")
            expect(a.member.releasing).toBe(false);
        }
      }),
    );
  });

  it("never has more than maxConcurrent members provisioning once its actions are applied", () => {
    fc.assert(
      fc.property(viewArb, fc.integer({ min: 0, max: 60 }), (v, minutes) => {
        const p = plan(v, T0 + minutes * MIN);
        const startKinds = new Set<Action["kind"]>(["startWorkflow", "retry", "createMachineDeployment"]);
        const started = new Set(
          p.actions.flatMap((a) => (startKinds.has(a.kind) && "member" in a ? [a.member] : [])),
        );
        const others = p.members.filter(
          (m) => m.phase === "Provisioning" && !m.view.releasing && !started.has(m.view),
        ).length;
        // Members already over the limit (e.g. maxConcurrent lowered) are not stopped, but nothing new starts.
        if (started.size > 0)
          expect(others + started.size).toBeLessThanOrEqual(v.spec.provisioning.maxConcurrent);
      }),
    );
  });

  it("asks for each Workflow's power at most once, and never for a running one", () => {
    fc.assert(
      fc.property(viewArb, fc.integer({ min: 0, max: 60 }), (v, minutes) => {
        const powered = plan(v, T0 + minutes * MIN).actions.flatMap((a) =>
          a.kind === "powerIntoPxe" ? [a.workflow] : [],
        );
        expect(new Set(powered).size).toBe(powered.length);
        for (const name of powered) {
          const wf = v.members
            .flatMap((m) => [...m.workflows, ...(m.wipe ? [m.wipe] : [])])
            .find((w) => w.metadata.name === name);
          if (!wf) continue; // created by an earlier action of the same plan
          expect(wf.metadata.annotations?.[ANNOTATION.powerRequested]).toBeUndefined();
          expect(["PENDING", "PREPARING", undefined]).toContain(wf.status?.state);
        }
      }),
    );
  });

  it("is pure: planning the same view twice gives the same plan and leaves the view untouched", () => {
    fc.assert(
      fc.property(viewArb, fc.integer({ min: 0, max: 60 }), (v, minutes) => {
        const before = JSON.stringify(v);
        const a = plan(v, T0 + minutes * MIN);
        const b = plan(v, T0 + minutes * MIN);
        expect(JSON.stringify(b)).toBe(JSON.stringify(a));
        expect(JSON.stringify(v)).toBe(before);
      }),
    );
  });

  it("is idempotent: once the world shows what the plan did, planning again only waits for a member it started", () => {
    fc.assert(
      fc.property(viewArb, (v) => {
        const p = plan(v, T0);
        const started = new Set(
          p.actions.flatMap((a) =>
            a.kind === "startWorkflow" && v.spec.provisioning.power !== "Redfish"
              ? [a.member.hw.metadata.name]
              : [],
          ),
        );
        // The world after: each started member has its PENDING Workflow, with bootOptions under TinkerbellBMC.
        const after: PoolView = {
          ...v,
          eligible: [],
          members: v.members.map((m) =>
            started.has(m.hw.metadata.name)
              ? member(v.spec, { hw: m.hw, workflows: [startedWorkflow(v, m)] })
              : m,
          ),
        };
        const again = plan(after, T0).actions.filter(
          (a) => a.kind !== "wait" && "member" in a && started.has(a.member.hw.metadata.name),
        );
        expect(again).toEqual([]);
      }),
    );
  });
});
