/**
 * Leader election against the real API server: clocks that disagree, a renewal that hangs, and a leader that
 * must have stopped (its signal aborted, its requests ended) before another replica starts.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { LeaderElector, type LeaderElectionOptions } from "../../lib/kube/lease.ts";
import { KubeClient, isAborted, isConflict, type KubeObject } from "../../lib/kube/rest.ts";
import { createNamespace, testKubeConfig } from "../harness/kube.ts";
import { waitFor } from "../harness/ports.ts";
import { StallProxy } from "../harness/stall-proxy.ts";

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const LEASE_MS = 3_000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Replica {
  elector: LeaderElector;
  log: { at: number; what: "started" | "stopped" }[];
  signal?: AbortSignal;
}

function replica(
  ns: string,
  identity: string,
  extra: Partial<LeaderElectionOptions> = {},
  config = kc,
): Replica {
  const r: Replica = { log: [] } as unknown as Replica;
  r.elector = new LeaderElector(config, {
    namespace: ns,
    name: "lock",
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: 2_000,
    retryPeriodMs: 400,
    onStartedLeading: (signal) => {
      r.signal = signal;
      r.log.push({ at: performance.now(), what: "started" });
    },
    onStoppedLeading: () => r.log.push({ at: performance.now(), what: "stopped" }),
    ...extra,
  });
  cleanups.push(() => r.elector.stop({ release: false }));
  return r;
}

const renewTime = async (ns: string): Promise<string> => {
  const lease = await new KubeClient(kc).request<{ spec: { renewTime?: string; holderIdentity?: string } }>(
    "GET",
    `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/lock`,
  );
  return `${lease.spec.holderIdentity}@${lease.spec.renewTime}`;
};

describe("leader election", () => {
  it("judges expiry on its own clock: a replica an hour ahead never takes a lease that is being renewed", async () => {
    const ns = await createNamespace(core, "lease-skew");
    const a = replica(ns, "a");
    a.elector.start();
    await waitFor("a leads", () => Promise.resolve(a.elector.isLeader()), 10_000);
    const ahead = replica(ns, "ahead", { now: () => Date.now() + 3_600_000 });
    const behind = replica(ns, "behind", { now: () => Date.now() - 3_600_000 });
    ahead.elector.start();
    behind.elector.start();
    // Let a renew for well over a lease duration while the others watch (each renewal changes the record).
    const seen = new Set<string>();
    await waitFor(
      "a renews for two lease durations",
      async () => {
        seen.add(await renewTime(ns));
        return seen.size >= Math.ceil((2 * LEASE_MS) / 400);
      },
      30_000,
    );
    expect(ahead.log).toEqual([]);
    expect(behind.log).toEqual([]);
    expect(a.elector.isLeader()).toBe(true);

    // a crashes without releasing: exactly one of the others takes over, once the record stood still a lease long.
    const crashedAt = performance.now();
    await a.elector.stop({ release: false });
    await waitFor(
      "a successor",
      () => Promise.resolve(ahead.elector.isLeader() || behind.elector.isLeader()),
      20_000,
    );
    const successor = ahead.elector.isLeader() ? ahead : behind;
    const other = successor === ahead ? behind : ahead;
    expect(successor.log[0]?.at ?? 0).toBeGreaterThanOrEqual(crashedAt + LEASE_MS - 2 * 400);
    expect(other.elector.isLeader()).toBe(false);
  });

  it("stops leading and aborts its in-flight requests on its own deadline while a renewal hangs, before anyone else leads", async () => {
    const ns = await createNamespace(core, "lease-stall");
    const { proxy, kc: proxied } = await StallProxy.in(kc);
    cleanups.push(() => proxy.close());
    const a = replica(ns, "a", {}, proxied);
    a.elector.start();
    await waitFor("a leads", () => Promise.resolve(a.elector.isLeader()), 10_000);
    const b = replica(ns, "b");
    b.elector.start();

    proxy.stall();
    // A request a reconcile started while leading: it hangs at the stalled API server until leadership ends.
    const leaderClient = new KubeClient(proxied, { signal: a.signal as AbortSignal });
    const inFlight = leaderClient.request("GET", `/api/v1/namespaces/${ns}`).then(
      () => "answered",
      (err: unknown) => (isAborted(err) ? "aborted" : `failed: ${String(err)}`),
    );
    await waitFor("b leads", () => Promise.resolve(b.elector.isLeader()), 20_000);
    expect(await inFlight).toBe("aborted");
    expect(a.signal?.aborted).toBe(true);
    expect(a.elector.isLeader()).toBe(false);
    const aStopped = a.log.find((e) => e.what === "stopped")?.at;
    const bStarted = b.log.find((e) => e.what === "started")?.at;
    expect(aStopped).toBeDefined();
    expect(aStopped as number).toBeLessThan(bStarted as number);

    // The stalled renewal returning late must not make a a leader again while b holds the lease.
    proxy.resume();
    await waitFor("b renews after the stall", async () => (await renewTime(ns)).startsWith("b@"), 10_000);
    expect(a.log.filter((e) => e.what === "started")).toHaveLength(1);
  });

  it("renews without reading, yet a leader whose Lease another writer took stops leading and does not overwrite it", async () => {
    const ns = await createNamespace(core, "lease-taken");
    const a = replica(ns, "a");
    a.elector.start();
    await waitFor("a leads", () => Promise.resolve(a.elector.isLeader()), 10_000);
    // Another writer (a person, a replica with its own view) takes the Lease between two renewals.
    const client = new KubeClient(kc);
    const path = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/lock`;
    await waitFor(
      "the Lease taken",
      async () => {
        const lease = await client.request<KubeObject & { spec: Record<string, unknown> }>("GET", path);
        lease.spec = {
          ...lease.spec,
          holderIdentity: "intruder",
          renewTime: new Date().toISOString().replace("Z", "000Z"),
        };
        try {
          await client.request("PUT", path, lease);
          return true;
        } catch (err) {
          if (isConflict(err)) return false; // a renewed in between; try again on the new version
          throw err;
        }
      },
      10_000,
    );
    const takenAt = performance.now();
    await waitFor("a stops leading", () => Promise.resolve(!a.elector.isLeader()), 10_000);
    expect(a.log.map((e) => e.what)).toEqual(["started", "stopped"]);
    // Its optimistic renewal met a newer version: it looked again and left the record to its new holder.
    if (performance.now() - takenAt < LEASE_MS - 500) expect(await renewTime(ns)).toMatch(/^intruder@/);
  });
});
