/**
 * The reconciler in-process, against the real API server, with an injected clock: what needs time to pass
 * (attempt timeouts), exact write behaviour (no status write when nothing changed), the claim race, and
 * the safety guard that no power action reaches a server the pool has not claimed.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HARDWARE, WORKFLOW, type Hardware, type Workflow } from "../../lib/api/tinkerbell.ts";
import { Informer } from "../../lib/kube/informer.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { createLogger } from "../../lib/log.ts";
import { assertClaimed, claim, NotClaimedError } from "../../operator/pool/hardware-writes.ts";
import { POOL, PoolReconciler } from "../../operator/pool/reconcile.ts";
import type { PoolObject } from "../../operator/pool/types.ts";
import type { PowerControl } from "../../operator/provision/power.ts";
import { createNamespace, testKubeConfig } from "../harness/kube.ts";
import { waitFor } from "../harness/ports.ts";
import { World, condition, hardware, poolObject } from "./fixtures.ts";

const kc = testKubeConfig();
const client = new KubeClient(kc);
let ns: string;
let world: World;
let hwInformer: Informer<Hardware>;
let wfInformer: Informer<Workflow>;
let clock = Date.now();
const powerCalls: string[] = [];
const recordingPower: PowerControl = {
  netbootOnce: (hw, key) => {
    powerCalls.push(`${hw.metadata.name}:${key}`);
    return Promise.resolve();
  },
  powerOff: () => Promise.resolve(),
};

const reconciler = (): PoolReconciler =>
  new PoolReconciler({
    client,
    hardware: hwInformer,
    workflows: wfInformer,
    target: (pool) => Promise.resolve({ client, namespace: pool.metadata.namespace ?? "" }),
    power: () => recordingPower,
    event: () => undefined,
    now: () => new Date(clock),
    log: createLogger("test", "error"),
    retryBackoffMs: 1000,
  });

/** Reconciles with fresh reads until `done` holds (the controller's loop, without its timers). */
async function converge(name: string, done: (p: PoolObject) => boolean, passes = 20): Promise<PoolObject> {
  const r = reconciler();
  for (let i = 0; i < passes; i++) {
    const pool = (await world.pool(name)) as PoolObject;
    if (done(pool)) return pool;
    await r.reconcile(pool);
    await new Promise((res) => setTimeout(res, 150)); // let the informers catch up with our writes
  }
  throw new Error(
    `pool ${name} did not converge in ${passes} passes: ${JSON.stringify((await world.pool(name))?.status)}`,
  );
}

beforeAll(async () => {
  ns = await createNamespace(kc.makeApiClient(CoreV1Api), "recon");
  world = new World(kc, ns);
  hwInformer = new Informer<Hardware>(kc, HARDWARE, { namespace: ns });
  wfInformer = new Informer<Workflow>(kc, WORKFLOW, { namespace: ns });
  await Promise.all([hwInformer.start(), wfInformer.start()]);
});

afterAll(() => {
  hwInformer.stop();
  wfInformer.stop();
});

describe("an attempt that runs past attemptTimeout", () => {
  it("fails, is retried as a new Workflow after the backoff, and quarantines after maxAttempts", async () => {
    await client.create(HARDWARE, hardware(ns, "slow", { bmc: true }));
    await client.create(
      POOL,
      poolObject(ns, "timeout", {
        replicas: 1,
        provisioning: {
          workflowOwner: "Operator",
          power: "Redfish",
          attemptTimeout: "5m",
          maxAttempts: 2,
          maxConcurrent: 1,
          wipeMode: "None",
        },
      }),
    );
    await converge("timeout", (p) => p.status?.members?.[0]?.phase === "Provisioning");
    expect(powerCalls).toEqual(["slow:metalpool-slow-a1"]); // Redfish asked exactly once for attempt 1
    clock += 6 * 60_000; // the attempt is now overdue
    await converge("timeout", (p) => (p.status?.members?.[0]?.attempts ?? 0) === 2);
    expect(powerCalls).toEqual(["slow:metalpool-slow-a1", "slow:metalpool-slow-a2"]);
    expect((await world.workflows()).map((w) => w.metadata.name)).toEqual(["metalpool-slow-a2"]);
    clock += 6 * 60_000;
    const done = await converge("timeout", (p) => (p.status?.members ?? []).length === 0);
    expect(condition(done, "HardwareShortage")?.status).toBe("True");
    const slow = await client.get<Hardware>(HARDWARE, ns, "slow");
    expect(slow.metadata.labels?.["metalpool.io/quarantined"]).toBe("true");
    expect(slow.metadata.annotations?.["metalpool.io/quarantine-reason"]).toBe(
      "2 provisioning attempts failed; last: attempt 2 did not finish within 5m",
    );
  });
});

describe("status writes", () => {
  it("are skipped when nothing changed", async () => {
    await client.create(
      POOL,
      poolObject(ns, "quiet", { replicas: 0, hardwareSelector: { matchLabels: { none: "x" } } }),
    );
    const settled = await converge("quiet", (p) => condition(p, "Ready")?.status === "True");
    const rv = settled.metadata.resourceVersion;
    const r = reconciler();
    for (let i = 0; i < 3; i++) await r.reconcile((await world.pool("quiet")) as PoolObject);
    expect((await world.pool("quiet"))?.metadata.resourceVersion).toBe(rv);
  });
});

describe("claims", () => {
  it("are exclusive: two writers with the same view, exactly one wins", async () => {
    const seen = await client.create(HARDWARE, hardware(ns, "contested"));
    const a = { name: "a", namespace: ns, uid: "uid-a" };
    const b = { name: "b", namespace: ns, uid: "uid-b" };
    const results = await Promise.all([
      claim(client, seen, a, new Date()),
      claim(client, seen, b, new Date()),
    ]);
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    const stored = await client.get<Hardware>(HARDWARE, ns, "contested");
    const winner = results.find((r) => r !== null);
    expect(stored.metadata.labels?.["metalpool.io/pool-uid"]).toBe(
      winner?.metadata.labels?.["metalpool.io/pool-uid"],
    );
  });

  it("guard every power and wipe action: a server not claimed by the pool is refused", async () => {
    const free = await client.create(HARDWARE, hardware(ns, "free"));
    await expect(
      assertClaimed(client, free, { name: "p", namespace: ns, uid: "uid-p" }),
    ).rejects.toBeInstanceOf(NotClaimedError);
    await expect(assertClaimed(client, free, { name: "p", namespace: ns, uid: "uid-p" })).rejects.toThrow(
      `refusing to act on Hardware free: it is not claimed by pool ${ns}/p`,
    );
  });
});

describe("an invalid spec the CRD let through", () => {
  it("becomes a Degraded condition, not a crash or a retry storm", async () => {
    await client.create(POOL, poolObject(ns, "odd", { replicas: 1 }));
    // Simulate an older CRD that accepted a field value this operator cannot parse.
    const pool = (await world.pool("odd")) as PoolObject;
    const broken = {
      ...pool,
      metadata: { ...pool.metadata, finalizers: ["metalpool.io/release-hardware"] },
      spec: { ...pool.spec, provisioning: { ...pool.spec.provisioning, attemptTimeout: 5 } },
    } as unknown as PoolObject;
    const outcome = await reconciler().reconcile(broken);
    expect(outcome).toEqual({});
    await waitFor(
      "status",
      async () => condition((await world.pool("odd")) as PoolObject, "Degraded")?.reason === "InvalidSpec",
      10_000,
    );
    expect(condition((await world.pool("odd")) as PoolObject, "Degraded")?.message).toBe(
      "spec.provisioning.attemptTimeout: Invalid input: expected string, received number",
    );
  });
});

describe("a paused pool", () => {
  it("claims and changes nothing, but still reports why it is not Ready", async () => {
    await client.create(HARDWARE, hardware(ns, "idle", { labels: { paused: "yes" } }));
    await client.create(
      POOL,
      poolObject(ns, "paused", {
        replicas: 1,
        paused: true,
        hardwareSelector: { matchLabels: { paused: "yes" } },
      }),
    );
    const p = await converge("paused", (x) => condition(x, "Ready")?.reason === "Paused");
    expect(p.status?.members).toEqual([]);
    expect(p.status?.availableHardware).toBe(1);
    expect(condition(p, "HardwareShortage")?.status).toBe("False");
    const idle = await client.get<Hardware>(HARDWARE, ns, "idle");
    expect(idle.metadata.labels?.["metalpool.io/pool-uid"]).toBeUndefined();
  });
});
