/**
 * Pending expiry with the real discovery program, the real API server and real UDP: junk MACs that filled
 * maxPending stop counting once they have not been seen for pendingExpiry, so a new server gets in; one
 * that boots again counts again. Every step awaits a condition (the pending gauge, a rejection counter),
 * none sleeps for a fixed time.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hardwareName } from "../../discovery/hardware.ts";
import { HARDWARE, type Hardware } from "../../lib/api/tinkerbell.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { createNamespace, testKubeConfig } from "../harness/kube.ts";
import { waitFor } from "../harness/ports.ts";
import { startDiscovery, type DiscoveryProcess } from "../harness/discovery.ts";
import { metric as readMetric, pxeDiscover, send } from "./client.ts";

const kc = testKubeConfig();
const client = new KubeClient(kc);
let ns: string;
let running: DiscoveryProcess | undefined;
let port: number;
let metricsUrl: string;

const metric = (sample: string): Promise<number> => readMetric(metricsUrl, sample);
const pendingGauge = (): Promise<number> => metric("metalpool_discovery_pending_hardware");
const hardwareFor = (mac: string): Promise<Hardware | null> =>
  client.getOrNull<Hardware>(HARDWARE, ns, hardwareName(mac));

beforeAll(async () => {
  ns = await createNamespace(kc.makeApiClient(CoreV1Api), "expiry");
  running = await startDiscovery(ns, {
    addresses: { range: "10.52.0.10-10.52.0.50", netmask: "255.255.255.0" },
    limits: {
      dedupeWindow: "1s",
      creationsPerMinute: 100,
      maxPending: 2,
      lastSeenInterval: "1s",
      pendingExpiry: "3s",
    },
  });
  ({ port, metricsUrl } = running);
});

afterAll(async () => {
  await running?.stop();
});

describe("pending expiry", () => {
  it("lets a new server in once the pending ones that filled the cap have not been seen for the expiry", async () => {
    await send(port, [pxeDiscover("52:54:00:ee:00:01"), pxeDiscover("52:54:00:ee:00:02")]);
    await waitFor("two pending Hardware", async () => (await pendingGauge()) === 2, 20_000);
    await send(port, [pxeDiscover("52:54:00:ee:00:03")]);
    await waitFor(
      "the cap to refuse a third",
      async () => (await metric('metalpool_discovery_rejections_total{reason="pending-cap"}')) === 1,
      10_000,
    );
    expect(await hardwareFor("52:54:00:ee:00:03")).toBeNull();

    // Nobody sees the first two again: after pendingExpiry they no longer count …
    await waitFor("the pending ones to expire", async () => (await pendingGauge()) === 0, 20_000);
    // … but they are still there (deleteExpiredPending is off by default) …
    expect(await hardwareFor("52:54:00:ee:00:01")).not.toBeNull();
    // … and the third server's next retry gets in.
    await send(port, [pxeDiscover("52:54:00:ee:00:03")]);
    await waitFor(
      "the third server's Hardware",
      async () => !!(await hardwareFor("52:54:00:ee:00:03")),
      20_000,
    );
    expect((await hardwareFor("52:54:00:ee:00:03"))?.metadata.labels?.["metalpool.io/approval"]).toBe(
      "pending",
    );
  });

  it("counts an expired pending server again once it boots again", async () => {
    await waitFor("every pending one to expire", async () => (await pendingGauge()) === 0, 20_000);
    const lastSeen = async (): Promise<number> =>
      Date.parse(
        (await hardwareFor("52:54:00:ee:00:01"))?.metadata.annotations?.["metalpool.io/last-seen"] ?? "",
      );
    const before = await lastSeen();
    await send(port, [pxeDiscover("52:54:00:ee:00:01")]);
    await waitFor("it to count again", async () => (await pendingGauge()) === 1, 10_000);
    expect(await lastSeen()).toBeGreaterThan(before);
    expect(await metric('metalpool_discovery_hardware_created_total{approval="pending"}')).toBe(3);
  });
});
