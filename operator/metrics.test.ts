import { describe, expect, it } from "vitest";
import { baremetalPoolSpecSchema, type Member, type MemberPhase } from "../lib/api/baremetalpool.ts";
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import type { Hardware, Workflow } from "../lib/api/tinkerbell.ts";
import { OperatorMetrics } from "./metrics.ts";
import type { ObservedMember, PoolObject } from "./pool/types.ts";

const T0 = Date.parse("2026-12-01T00:00:00Z");
const MIN = 60_000;

function pool(replicas: number, members: Member[] = [], power = "Manual"): PoolObject {
  return {
    metadata: { name: "web", namespace: "dc1", uid: "uid" },
    spec: baremetalPoolSpecSchema.parse({
      replicas,
      template: { osImageURL: "http://x/y.raw", kubeletVersion: "1.33.4" },
      provisioning: { workflowOwner: "Operator", power },
    }),
    status: {
      replicas: 0,
      readyReplicas: 0,
      provisioningReplicas: 0,
      failedReplicas: 0,
      availableHardware: 0,
      members,
    },
  };
}

function server(name: string): Hardware {
  return {
    metadata: {
      name,
      namespace: "dc1",
      labels: { [LABEL.poolUID]: "uid", [LABEL.pool]: "web" },
      annotations: { [ANNOTATION.claimedAt]: new Date(T0).toISOString(), [ANNOTATION.poolNamespace]: "dc1" },
    },
    spec: {
      interfaces: [
        { dhcp: { mac: "52:54:00:00:00:01", ip: { address: "10.0.0.2", netmask: "255.255.255.0" } } },
      ],
      disks: [{ device: "/dev/sda" }],
    },
  };
}

function member(
  name: string,
  phase: MemberPhase,
  attempts: number,
  state?: string,
  left = false,
): ObservedMember {
  const workflows: Workflow[] = state
    ? [
        {
          metadata: { name: `${name}-1`, namespace: "dc1" },
          spec: { templateRef: "t", hardwareRef: name },
          status: { state },
        },
      ]
    : [];
  return {
    view: {
      hw: server(name),
      md: undefined,
      machines: 0,
      workflows,
      wipe: undefined,
      attempt: attempts,
      releasing: false,
      phase,
    },
    phase,
    attempts,
    left,
    ...(state === "FAILED" ? { lastError: `attempt ${attempts} FAILED: disk` } : {}),
  };
}

const at = (minutes: number): Date => new Date(T0 + minutes * MIN);
/** One sample by its series name (histograms: name_count, name_sum) and labels, as Prometheus would see it. */
async function value(
  m: OperatorMetrics,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const base = name.replace(/_(count|sum)$/, "");
  const metric = await m.registry.getSingleMetric(base)?.get();
  return metric?.values.find(
    (v) =>
      ((v as { metricName?: string }).metricName ?? base) === name &&
      Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val),
  )?.value;
}

describe("OperatorMetrics from pool passes", () => {
  it("counts outcomes, times claim→Ready and stages, and starts every pool counter at 0", async () => {
    const m = new OperatorMetrics();
    const p = pool(2);
    m.observePool({
      pool: p,
      members: [member("s1", "Provisioning", 1), member("s2", "Provisioning", 1)],
      claimed: 0,
      now: at(1),
    });
    expect(await m.registry.metrics()).toContain(
      'metalpool_provisioning_attempts_total{namespace="dc1",pool="web",result="failure",reason="power-failed"} 0',
    );
    // The first quarantine must be an increase too (MetalpoolServersQuarantined: increase(…[1h]) > 0).
    expect(await m.registry.metrics()).toContain(
      'metalpool_pool_events_total{namespace="dc1",pool="web",reason="Quarantined"} 0',
    );
    m.observePool({
      pool: p,
      members: [member("s1", "Ready", 1, "SUCCESS"), member("s2", "Failed", 1, "FAILED")],
      claimed: 0,
      now: at(15),
    });
    m.observePool({
      pool: p,
      members: [member("s1", "Ready", 1, "SUCCESS"), member("s2", "Provisioning", 2)],
      claimed: 0,
      now: at(17),
    });
    m.observePool({
      pool: p,
      members: [member("s1", "Ready", 1, "SUCCESS"), member("s2", "Ready", 2, "SUCCESS")],
      claimed: 0,
      now: at(30),
    });

    const l = { namespace: "dc1", pool: "web" };
    expect(
      await value(m, "metalpool_provisioning_attempts_total", { ...l, result: "success", reason: "none" }),
    ).toBe(2);
    expect(
      await value(m, "metalpool_provisioning_attempts_total", {
        ...l,
        result: "failure",
        reason: "workflow-failed",
      }),
    ).toBe(1);
    expect(await value(m, "metalpool_provisioning_retries_total", { ...l, result: "success" })).toBe(1);
    expect(await value(m, "metalpool_provisioning_retries_total", { ...l, result: "failure" })).toBe(0);
    expect(await value(m, "metalpool_provisioning_duration_seconds_count", l)).toBe(2);
    expect(await value(m, "metalpool_provisioning_duration_seconds_sum", l)).toBe(15 * 60 + 30 * 60);
    expect(await value(m, "metalpool_member_phase_duration_seconds_count", { ...l, phase: "Failed" })).toBe(
      1,
    );
    expect(await value(m, "metalpool_member_phase_duration_seconds_sum", { ...l, phase: "Failed" })).toBe(
      120,
    );
    expect(await value(m, "metalpool_pool_members", { ...l, phase: "Ready" })).toBe(2);
    // No series names a server: two members, and the output has neither name.
    expect(await m.registry.metrics()).not.toMatch(/s1|s2/);
  });

  it("a restarted operator does not count again what the status already shows", async () => {
    const m = new OperatorMetrics();
    const recorded: Member[] = [
      { hardware: "s1", phase: "Ready", since: "2026-12-01T00:10:00Z", attempts: 1 },
    ];
    m.observePool({
      pool: pool(1, recorded),
      members: [member("s1", "Ready", 1, "SUCCESS")],
      claimed: 0,
      now: at(60),
    });
    const l = { namespace: "dc1", pool: "web" };
    expect(
      await value(m, "metalpool_provisioning_attempts_total", { ...l, result: "success", reason: "none" }),
    ).toBe(0);
    expect(await value(m, "metalpool_provisioning_duration_seconds_count", l)).toBe(0);
  });

  it("shortage: servers wanted and neither held nor claimed this pass; none while paused", async () => {
    const m = new OperatorMetrics();
    const l = { namespace: "dc1", pool: "web" };
    m.observePool({ pool: pool(4), members: [member("s1", "Ready", 1, "SUCCESS")], claimed: 1, now: at(0) });
    expect(await value(m, "metalpool_pool_shortage", l)).toBe(2);
    // A member quarantined this pass no longer counts.
    m.observePool({
      pool: pool(4),
      members: [member("s1", "Failed", 3, "FAILED", true)],
      claimed: 0,
      now: at(1),
    });
    expect(await value(m, "metalpool_pool_shortage", l)).toBe(4);
    expect(await value(m, "metalpool_pool_members", { ...l, phase: "Failed" })).toBe(0);
    expect(await value(m, "metalpool_quarantines_total", { ...l, reason: "attempts-exhausted" })).toBe(1);
    const paused = pool(4);
    paused.spec.paused = true;
    m.observePool({ pool: paused, members: [], claimed: 0, now: at(2) });
    expect(await value(m, "metalpool_pool_shortage", l)).toBe(0);
    m.forgetPool("dc1", "web");
    expect(await value(m, "metalpool_pool_shortage", l)).toBeUndefined();
    expect(await value(m, "metalpool_pool_desired_replicas", l)).toBeUndefined();
  });

  it("the fleet gauge: nothing until leading, then Hardware by state with members' phases", async () => {
    const m = new OperatorMetrics();
    let leading = false;
    const free: Hardware = { ...server("s9"), metadata: { name: "s9", namespace: "dc1", labels: {} } };
    m.watchFleet(() => (leading ? [server("s1"), server("s2"), free] : undefined));
    expect(await value(m, "metalpool_hardware", { namespace: "dc1" })).toBeUndefined();
    leading = true;
    m.observePool({
      pool: pool(2),
      members: [member("s1", "Ready", 1, "SUCCESS"), member("s2", "Provisioning", 1)],
      claimed: 0,
      now: at(0),
    });
    expect(await value(m, "metalpool_hardware", { namespace: "dc1", state: "claimed" })).toBe(1);
    expect(await value(m, "metalpool_hardware", { namespace: "dc1", state: "provisioning" })).toBe(1);
    expect(await value(m, "metalpool_hardware", { namespace: "dc1", state: "free-eligible" })).toBe(1);
    expect(await value(m, "metalpool_hardware", { namespace: "dc1", state: "quarantined" })).toBe(0);
    leading = false;
    expect(await value(m, "metalpool_hardware", { namespace: "dc1" })).toBeUndefined();
  });

  it("BMC requests: every operation and result starts at 0, each request counts and is timed", async () => {
    const m = new OperatorMetrics();
    expect(
      await value(m, "metalpool_bmc_requests_total", { operation: "inventory", result: "unauthorized" }),
    ).toBe(0);
    m.observeBmc("netboot", "unreachable", 10.5);
    expect(
      await value(m, "metalpool_bmc_requests_total", { operation: "netboot", result: "unreachable" }),
    ).toBe(1);
    expect(
      await value(m, "metalpool_bmc_request_duration_seconds_sum", {
        operation: "netboot",
        result: "unreachable",
      }),
    ).toBe(10.5);
  });

  it("the Lease's hand-over count has no sample until the Lease is seen (a 0 first would read as changes)", async () => {
    const m = new OperatorMetrics();
    expect(await value(m, "metalpool_leader_lease_transitions", {})).toBeUndefined();
    expect(await m.registry.metrics()).not.toMatch(/^metalpool_leader_lease_transitions[ {]/m);
    m.leaseTransitions.set({ lease: "metalpool-operator" }, 7);
    expect(await value(m, "metalpool_leader_lease_transitions", { lease: "metalpool-operator" })).toBe(7);
  });
});
