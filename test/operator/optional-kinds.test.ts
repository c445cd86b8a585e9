/**
 * A cluster without rufio and without machine-controller's CRDs: the operator starts, reports Ready, says
 * in its log what is disabled, refuses only the pools that need the missing kinds (with a condition that
 * says why), and enables them once the CRDs are installed, without a restart.
 */
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POOL } from "../../lib/api/baremetalpool.ts";
import type { PoolObject } from "../../operator/pool/types.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { crdFiles, installCrds, startControlPlane, type ControlPlane } from "../harness/control-plane.ts";
import { createNamespace } from "../harness/kube.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { waitFor } from "../harness/ports.ts";
import { poolObject } from "./fixtures.ts";

let cp: ControlPlane;
let op: OperatorProcess | undefined;
const optional = (f: string): boolean => /bmc\.tinkerbell\.org|machine-controller/.test(f);

beforeAll(async () => {
  cp = await startControlPlane();
  await installCrds(
    cp,
    crdFiles().filter((f) => !optional(f)),
  );
}, 120_000);
afterAll(async () => {
  await op?.stop();
  await cp?.stop();
});

const condition = (p: PoolObject | undefined, type: string) =>
  p?.status?.conditions?.find((c) => c.type === type);

describe("optional kinds", () => {
  it("runs without rufio and machine-controller, refuses only what needs them, and enables it when they appear", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const client = new KubeClient(kc);
    const ns = await createNamespace(kc.makeApiClient(CoreV1Api), "optional");
    op = startOperator({ kubeconfig: cp.kubeconfigPath, namespace: ns, identity: "a" });
    const ops = await op.opsUrl();
    await waitFor("ready", async () => (await fetch(`${ops}/readyz`)).ok, 30_000);
    const lines = (): string => op?.logTail(200) ?? "";
    // Readiness needs the informers synced; the look for optional kinds follows it, so its log may lag.
    await waitFor(
      "both disabled kinds in the log",
      () => Promise.resolve(lines().split("not served").length > 2),
      10_000,
    );
    expect(lines()).toMatch(/"kind":"jobs\.bmc\.tinkerbell\.org\/v1alpha1".*not served by the API server/);
    expect(lines()).toMatch(/"kind":"machinedeployments\.cluster\.k8s\.io\/v1alpha1".*not served/);

    await client.create(
      POOL,
      poolObject(ns, "bmc", {
        replicas: 0,
        provisioning: { workflowOwner: "Operator", power: "TinkerbellBMC" },
      }),
    );
    await client.create(
      POOL,
      poolObject(ns, "mc", {
        replicas: 0,
        provisioning: { workflowOwner: "MachineController", power: "Manual" },
      }),
    );
    await client.create(
      POOL,
      poolObject(ns, "plain", { replicas: 0, provisioning: { workflowOwner: "Operator", power: "Manual" } }),
    );
    const pool = (name: string) => client.get<PoolObject>(POOL, ns, name);
    await waitFor(
      "conditions",
      async () =>
        Boolean(
          condition(await pool("bmc"), "Ready") &&
          condition(await pool("mc"), "Ready") &&
          condition(await pool("plain"), "Ready"),
        ),
      30_000,
    );
    expect(condition(await pool("bmc"), "Ready")).toMatchObject({ status: "False", reason: "APINotServed" });
    expect(condition(await pool("bmc"), "Ready")?.message).toContain("install rufio");
    expect(condition(await pool("mc"), "Ready")).toMatchObject({ status: "False", reason: "APINotServed" });
    expect(condition(await pool("mc"), "Ready")?.message).toContain("MachineDeployments");
    expect(condition(await pool("plain"), "Ready")).toMatchObject({ status: "True" });

    // rufio is installed later: the next look (every resync period) enables TinkerbellBMC pools.
    await installCrds(
      cp,
      crdFiles().filter((f) => /bmc\.tinkerbell\.org/.test(f)),
    );
    await waitFor(
      "bmc pool enabled",
      async () => condition(await pool("bmc"), "Ready")?.reason !== "APINotServed",
      60_000,
    );
    expect(condition(await pool("bmc"), "Ready")?.status).toBe("True");
    expect(lines()).toMatch(/"kind":"jobs\.bmc\.tinkerbell\.org\/v1alpha1".*now served/);
  });
});
