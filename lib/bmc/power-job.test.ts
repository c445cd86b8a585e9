import { describe, expect, it } from "vitest";
import type { BmcJob, Hardware } from "../api/tinkerbell.ts";
import { bmcJobName, jobOutcome, netbootJob, powerOffJob } from "./power-job.ts";

const legacy: Hardware = {
  metadata: { name: "n1", namespace: "dc" },
  spec: { bmcRef: { name: "n1-bmc" }, interfaces: [{ dhcp: { mac: "52:54:00:00:00:01", uefi: false } }] },
};

function withConditions(conditions: { type: string; status: string; message?: string }[]): BmcJob {
  return { ...netbootJob(legacy, "wf-1"), status: { conditions } };
}

describe("bmc Jobs", () => {
  it("are named from the operation key, within 63 characters, stable for long keys", () => {
    expect(bmcJobName("wf-1", "netboot")).toBe("metalpool-wf-1-netboot");
    const long = bmcJobName(`pool-${"x".repeat(80)}-attempt-3`, "off");
    expect(long).toHaveLength(63);
    expect(long).toMatch(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/);
    expect(bmcJobName(`pool-${"x".repeat(80)}-attempt-3`, "off")).toBe(long);
    expect(bmcJobName(`pool-${"x".repeat(80)}-attempt-4`, "off")).not.toBe(long);
  });

  it("boot legacy firmware without EFI, and power off in one task", () => {
    expect(netbootJob(legacy, "wf-1").spec.tasks).toEqual([
      { powerAction: "off" },
      { bootDevice: { device: "pxe", efiBoot: false } },
      { powerAction: "on" },
    ]);
    expect(powerOffJob(legacy, "release-1").spec).toEqual({
      machineRef: { name: "n1-bmc", namespace: "dc" },
      tasks: [{ powerAction: "off" }],
    });
  });

  it("carry the claim they were made under (pool UID and name) and the Hardware, for the orphan collector", () => {
    const claimed: Hardware = {
      ...legacy,
      metadata: {
        ...legacy.metadata,
        labels: { "metalpool.io/pool-uid": "u-1", "metalpool.io/pool": "p", other: "x" },
      },
    };
    const labels = {
      "metalpool.io/pool-uid": "u-1",
      "metalpool.io/pool": "p",
      "metalpool.io/hardware": "n1",
    };
    expect(netbootJob(claimed, "wf-1").metadata.labels).toEqual(labels);
    expect(powerOffJob(claimed, "off-1").metadata.labels).toEqual(labels);
    expect(powerOffJob(legacy, "off-1").metadata.labels).toEqual({ "metalpool.io/hardware": "n1" });
  });

  it("refuse Hardware without a bmc Machine", () => {
    expect(() => netbootJob({ metadata: { name: "x", namespace: "dc" }, spec: {} }, "k")).toThrow(
      "Hardware dc/x has no spec.bmcRef; the bmc Job path needs a bmc Machine",
    );
  });

  it("report rufio's result from status.conditions", () => {
    expect(jobOutcome(withConditions([])).state).toBe("pending");
    expect(jobOutcome(withConditions([{ type: "Running", status: "True" }])).state).toBe("pending");
    expect(jobOutcome(withConditions([{ type: "Completed", status: "True" }]))).toEqual({
      state: "done",
      detail: "bmc Job dc/metalpool-wf-1-netboot completed",
    });
    expect(
      jobOutcome(withConditions([{ type: "Failed", status: "True", message: "error setting boot device" }])),
    ).toEqual({
      state: "failed",
      detail: "bmc Job dc/metalpool-wf-1-netboot failed: error setting boot device",
    });
    expect(jobOutcome(withConditions([{ type: "Failed", status: "False" }])).state).toBe("pending");
  });
});
