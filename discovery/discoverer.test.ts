/**
 * The Discoverer's API slots, with a stand-in API whose creates finish when the test says: admitted clients
 * wait their turn in arrival order, and packets behind them are still answered at once.
 */
import { describe, expect, it } from "vitest";
import type { Hardware } from "../lib/api/tinkerbell.ts";
import type { Informer } from "../lib/kube/informer.ts";
import type { KubeClient } from "../lib/kube/rest.ts";
import { createLogger } from "../lib/log.ts";
import { pxeDiscover } from "../test/fixtures/dhcp.ts";
import { Discoverer, type Outcome } from "./discoverer.ts";
import { DiscoveryMetrics } from "./metrics.ts";
import { loadPolicy } from "./policy.ts";

/** An API whose creates each wait for release(); what was asked for is in `started`, in order. */
function stalledApi() {
  const started: Hardware[] = [];
  const releases: (() => void)[] = [];
  const client = {
    create: (_type: unknown, hw: Hardware) =>
      new Promise<Hardware>((resolve) => {
        started.push(hw);
        releases.push(() =>
          resolve({ ...hw, metadata: { ...hw.metadata, uid: hw.metadata.name, resourceVersion: "1" } }),
        );
      }),
  } as unknown as KubeClient;
  return { client, started, release: (i: number) => releases[i]?.() };
}

const informer = {
  on() {
    return this;
  },
  list: () => [],
  upsertLocal: () => undefined,
} as unknown as Informer<Hardware>;

function discoverer(client: KubeClient, limits: Record<string, unknown>, apiConcurrency: number): Discoverer {
  return new Discoverer({
    client,
    hardware: informer,
    policy: loadPolicy(undefined, {
      namespace: "ns",
      addresses: { range: "10.0.0.1-10.0.0.250", netmask: "255.255.255.0" },
      limits,
    }),
    metrics: new DiscoveryMetrics(),
    log: createLogger("test", "error"),
    apiConcurrency,
  });
}

const mac = (i: number): string => `52:54:00:00:00:${i.toString(16).padStart(2, "0")}`;
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("the Discoverer's API slots", () => {
  it("creates at most apiConcurrency at once, in arrival order, and answers the packets behind at once", async () => {
    const api = stalledApi();
    const d = discoverer(api.client, { creationsPerMinute: 5, maxPending: 100 }, 2);
    const admitted = [0, 1, 2, 3, 4].map((i) => d.handle(pxeDiscover(mac(i)), "0.0.0.0:68"));
    await settle();
    expect(api.started.map((h) => h.spec.interfaces?.[0]?.dhcp?.mac)).toEqual([mac(0), mac(1)]);
    // While five creations wait or run: a resend is a duplicate, a sixth client is over the minute's budget.
    expect(await d.handle(pxeDiscover(mac(3)), "0.0.0.0:68")).toEqual({
      result: "rejected",
      reason: "duplicate",
    });
    expect(await d.handle(pxeDiscover(mac(5)), "0.0.0.0:68")).toEqual({
      result: "rejected",
      reason: "rate-limit",
    });
    for (let i = 0; i < 5; i++) {
      api.release(i);
      await settle();
      expect(api.started).toHaveLength(Math.min(5, i + 3));
    }
    const outcomes: Outcome[] = await Promise.all(admitted);
    expect(outcomes.map((o) => o.result)).toEqual(["created", "created", "created", "created", "created"]);
    expect(api.started.map((h) => h.spec.interfaces?.[0]?.dhcp?.mac)).toEqual([0, 1, 2, 3, 4].map(mac));
    // Each got its own address, given at admission.
    expect(new Set(api.started.map((h) => h.spec.interfaces?.[0]?.dhcp?.ip?.address)).size).toBe(5);
  });

  it("counts creations still waiting for a slot against the pending cap", async () => {
    const api = stalledApi();
    const d = discoverer(api.client, { maxPending: 3 }, 1);
    const admitted = [0, 1, 2].map((i) => d.handle(pxeDiscover(mac(i)), "0.0.0.0:68"));
    await settle();
    expect(api.started).toHaveLength(1);
    expect(await d.handle(pxeDiscover(mac(3)), "0.0.0.0:68")).toEqual({
      result: "rejected",
      reason: "pending-cap",
    });
    for (let i = 0; i < 3; i++) {
      api.release(i);
      await settle();
    }
    expect((await Promise.all(admitted)).map((o) => o.result)).toEqual(["created", "created", "created"]);
  });
});
