/**
 * The relay rule on a hostile network, with the real discovery program, the real API server and real UDP
 * datagrams on loopback: a request is taken as relayed only when it comes from the relay it names.
 * Loopback gives us several source addresses: 127.0.0.10 plays a relay on the relays' network 127.0.0.8/29,
 * 127.0.0.3 a relay that sends from an address outside its clients' subnet, and 127.0.0.1 an impostor.
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
const rejections = (reason: string): Promise<number> =>
  metric(`metalpool_discovery_rejections_total{reason="${reason}"}`);
const hardwareFor = (mac: string): Promise<Hardware | null> =>
  client.getOrNull<Hardware>(HARDWARE, ns, hardwareName(mac));

beforeAll(async () => {
  ns = await createNamespace(kc.makeApiClient(CoreV1Api), "relay");
  running = await startDiscovery(ns, {
    acceptRelays: ["127.0.0.8/29", { subnet: "10.30.0.0/16", sources: ["127.0.0.3"] }, "10.20.0.0/16"],
    addresses: { range: "10.51.0.10-10.51.0.50", netmask: "255.255.255.0" },
    limits: { dedupeWindow: "1m", creationsPerMinute: 100, maxPending: 100 },
  });
  ({ port, metricsUrl } = running);
});

afterAll(async () => {
  await running?.stop();
});

describe("relayed requests on a hostile network", () => {
  it("rejects, and counts, a request that names an accepted relay but does not come from it", async () => {
    expect(await rejections("relay-source-mismatch")).toBe(0); // exported before the first rejection
    // Any host that reaches port 67 can write an accepted relay's address into giaddr …
    await send(port, [pxeDiscover("52:54:00:dd:00:01", { giaddr: "10.20.0.1" })], "127.0.0.1");
    // … and a real relay's address is no licence to speak for another relay's clients.
    await send(port, [pxeDiscover("52:54:00:dd:00:02", { giaddr: "10.20.0.1" })], "127.0.0.3");
    await waitFor("both rejections", async () => (await rejections("relay-source-mismatch")) === 2, 10_000);
    expect(await hardwareFor("52:54:00:dd:00:01")).toBeNull();
    expect(await hardwareFor("52:54:00:dd:00:02")).toBeNull();
    expect((await client.list<Hardware>(HARDWARE, ns)).items).toEqual([]);
  });

  it("accepts a relay sending from its own entry, or from the sources its entry lists", async () => {
    await send(port, [pxeDiscover("52:54:00:dd:00:03", { giaddr: "127.0.0.9" })], "127.0.0.10");
    await send(port, [pxeDiscover("52:54:00:dd:00:04", { giaddr: "10.30.4.1" })], "127.0.0.3");
    await waitFor("both Hardware", async () => !!(await hardwareFor("52:54:00:dd:00:04")), 20_000);
    expect((await hardwareFor("52:54:00:dd:00:03"))?.metadata.annotations?.["metalpool.io/relay"]).toBe(
      "127.0.0.9",
    );
    expect((await hardwareFor("52:54:00:dd:00:04"))?.metadata.annotations?.["metalpool.io/relay"]).toBe(
      "10.30.4.1",
    );
  });

  it("does not let a forged request make a real server's own request a duplicate", async () => {
    const mac = "52:54:00:dd:00:05";
    await send(port, [pxeDiscover(mac, { giaddr: "127.0.0.9" })], "127.0.0.1"); // forged: wrong source
    await waitFor(
      "the forgery rejected",
      async () => (await rejections("relay-source-mismatch")) === 3,
      10_000,
    );
    await send(port, [pxeDiscover(mac, { giaddr: "127.0.0.9" })], "127.0.0.10"); // the real relay, within the dedupe window
    await waitFor("the real server's Hardware", async () => !!(await hardwareFor(mac)), 20_000);
    expect(await rejections("duplicate")).toBe(0);
  });

  it("rejects a direct request that claims to have passed relays", async () => {
    await send(port, [pxeDiscover("52:54:00:dd:00:06", { hops: 2 })]);
    await waitFor("the rejection", async () => (await rejections("direct-with-hops")) === 1, 10_000);
    expect(await hardwareFor("52:54:00:dd:00:06")).toBeNull();
  });

  it("still rejects a relay it does not know, whatever the source", async () => {
    await send(port, [pxeDiscover("52:54:00:dd:00:07", { giaddr: "10.99.0.1" })], "127.0.0.10");
    await waitFor("the rejection", async () => (await rejections("relay-not-allowed")) === 1, 10_000);
    expect(await hardwareFor("52:54:00:dd:00:07")).toBeNull();
  });
});
