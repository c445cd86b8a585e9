import { describe, expect, it } from "vitest";
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import type { Hardware } from "../lib/api/tinkerbell.ts";
import { netbootJob, powerOffJob } from "../lib/bmc/power-job.ts";
import { quarantinedBy, unexplained, type ClaimView } from "./orphans.ts";

const claimed: Hardware = {
  apiVersion: "tinkerbell.org/v1alpha1",
  kind: "Hardware",
  metadata: {
    name: "s1",
    namespace: "ns",
    labels: { [LABEL.poolUID]: "uid-a", [LABEL.pool]: "a" },
    annotations: { [ANNOTATION.poolNamespace]: "ns" },
  },
  spec: { bmcRef: { apiGroup: "bmc.tinkerbell.org", kind: "Machine", name: "bmc-s1" } },
};
/** The same server after pool a quarantined it: no claim, the quarantine label, who quarantined it. */
const quarantined: Hardware = {
  ...claimed,
  metadata: {
    ...claimed.metadata,
    labels: { [LABEL.quarantined]: "true" },
    annotations: { [ANNOTATION.quarantinedBy]: "uid-a" },
  },
};
const view = (hw: Hardware): ClaimView => ({
  poolExists: (uid) => uid === "uid-a",
  claimOf: () => hw.metadata.labels?.[LABEL.poolUID],
  quarantinedBy: () => quarantinedBy(hw),
});

describe("which bmc Jobs no live claim explains", () => {
  const off = powerOffJob(claimed, "quarantine-s1");
  const netboot = netbootJob(claimed, "provision-s1");
  it("explains both while the pool holds the server", () => {
    expect(unexplained([off, netboot], view(claimed))).toEqual([]);
  });
  it("keeps a quarantined server's pending power-off Job (it powers off nobody's server), never a netboot", () => {
    expect(unexplained([off, netboot], view(quarantined))).toEqual([netboot]);
  });
  it("collects that power-off Job once it ran, or once a person let the server go", () => {
    const done = { ...off, status: { conditions: [{ type: "Completed", status: "True" }] } };
    expect(unexplained([done], view(quarantined))).toEqual([done]);
    const free = { ...quarantined, metadata: { ...quarantined.metadata, labels: {} } };
    expect(unexplained([off], view(free))).toEqual([off]);
  });
  it("collects a power-off Job of one pool for a server another pool quarantined", () => {
    const other = {
      ...quarantined,
      metadata: { ...quarantined.metadata, annotations: { [ANNOTATION.quarantinedBy]: "uid-b" } },
    };
    expect(unexplained([off], view(other))).toEqual([off]);
  });
});
