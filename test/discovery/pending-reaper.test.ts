/**
 * Deleting expired pending Hardware (limits.deleteExpiredPending), in-process against the real API server
 * with an injected clock: only Hardware that is still pending, unclaimed, created by discovery and unseen for
 * pendingExpiry goes, and a change between our fresh read and our delete (a person approving it) wins,
 * because the delete carries uid and resourceVersion preconditions.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Discoverer } from "../../discovery/discoverer.ts";
import { hardwareName } from "../../discovery/hardware.ts";
import { DiscoveryMetrics } from "../../discovery/metrics.ts";
import { loadPolicy } from "../../discovery/policy.ts";
import { HARDWARE, type Hardware } from "../../lib/api/tinkerbell.ts";
import { Informer } from "../../lib/kube/informer.ts";
import { KubeClient, type KubeObject, type RequestOptions, type ResourceType } from "../../lib/kube/rest.ts";
import { createLogger } from "../../lib/log.ts";
import { createNamespace, testKubeConfig } from "../harness/kube.ts";
import { waitFor } from "../harness/ports.ts";
import { pxeDiscover } from "./client.ts";

/** A real client that approves one Hardware right after discovery reads it, and notes every DELETE. */
class ApprovesOnRead extends KubeClient {
  target = "";
  deletes: string[] = [];

  override async get<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
  ): Promise<T> {
    const obj = await super.get<T>(type, namespace, name);
    if (name === this.target)
      await this.patch(
        type,
        namespace,
        name,
        { metadata: { labels: { "metalpool.io/approved": "true" } } },
        "merge",
      );
    return obj;
  }

  override request<T>(method: string, path: string, body?: unknown, opts?: RequestOptions): Promise<T> {
    if (method === "DELETE") this.deletes.push(path.split("/").at(-1) ?? "");
    return super.request<T>(method, path, body, opts);
  }
}

const kc = testKubeConfig();
const client = new ApprovesOnRead(kc);
let ns: string;
let informer: Informer<Hardware>;

beforeAll(async () => {
  ns = await createNamespace(kc.makeApiClient(CoreV1Api), "reap");
  informer = new Informer<Hardware>(kc, HARDWARE, { namespace: ns });
  await informer.start();
});
afterAll(() => informer.stop());

const MINUTE = 60_000;
const name = (n: number): string => hardwareName(`52:54:00:ff:00:0${n}`);
const labelsOf = (n: number): Record<string, string> | undefined =>
  informer.get(ns, name(n))?.metadata.labels;

describe("deleting expired pending Hardware", () => {
  it("deletes only what is still pending, unclaimed, discovered and unseen, re-checked at the delete", async () => {
    let clock = Date.now();
    const t0 = clock;
    const metrics = new DiscoveryMetrics();
    const discoverer = new Discoverer({
      client,
      hardware: informer,
      policy: loadPolicy(undefined, {
        namespace: ns,
        addresses: { range: "10.61.0.1-10.61.0.250", netmask: "255.255.255.0" },
        limits: { pendingExpiry: "1h", lastSeenInterval: "10m", deleteExpiredPending: true },
      }),
      metrics,
      log: createLogger("test", "error"),
      now: () => clock,
    });
    for (const n of [1, 2, 3, 4, 5])
      expect((await discoverer.handle(pxeDiscover(`52:54:00:ff:00:0${n}`), "0.0.0.0:68")).result).toBe(
        "created",
      );
    // A person approves 2; a pool has (wrongly) claimed 3; someone typed a pending Hardware by hand.
    await client.patch(
      HARDWARE,
      ns,
      name(2),
      { metadata: { labels: { "metalpool.io/approved": "true" } } },
      "merge",
    );
    await client.patch(
      HARDWARE,
      ns,
      name(3),
      { metadata: { labels: { "metalpool.io/pool-uid": "u3" } } },
      "merge",
    );
    await client.create<Hardware>(HARDWARE, {
      metadata: {
        namespace: ns,
        name: "typed-pending",
        labels: { "metalpool.io/approval": "pending" },
        annotations: { "metalpool.io/last-seen": new Date(t0).toISOString() },
      },
      spec: {},
    });
    await waitFor(
      "the cache to see all of it",
      () =>
        Promise.resolve(
          labelsOf(2)?.["metalpool.io/approved"] === "true" &&
            labelsOf(3)?.["metalpool.io/pool-uid"] === "u3" &&
            !!informer.get(ns, "typed-pending"),
        ),
      10_000,
    );
    clock = t0 + 50 * MINUTE; // 4 boots again
    expect(await discoverer.handle(pxeDiscover("52:54:00:ff:00:04"), "0.0.0.0:68")).toMatchObject({
      result: "known",
      refreshed: true,
    });

    clock = t0 + 61 * MINUTE;
    client.target = name(5); // a person approves 5 between our read and our delete
    expect(await discoverer.deleteExpiredPending()).toBe(1);
    client.target = "";

    const left = (await client.list<Hardware>(HARDWARE, ns)).items.map((h) => h.metadata.name).sort();
    expect(left).toEqual([name(2), name(3), name(4), name(5), "typed-pending"].sort());
    expect(client.deletes).toEqual([name(1), name(5)]); // 5's delete was tried and refused by its preconditions
    const five = await client.get<Hardware>(HARDWARE, ns, name(5));
    expect(five.metadata.labels?.["metalpool.io/approved"]).toBe("true");
    expect(
      await metrics.registry.getSingleMetricAsString("metalpool_discovery_pending_deleted_total"),
    ).toContain("metalpool_discovery_pending_deleted_total 1");
  });
});
