/**
 * Flood protection, in-process against the real API server with an injected clock: a storm of random MACs
 * cannot create more than creationsPerMinute Hardware a minute, nor more than maxPending unapproved ones.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encode } from "../../discovery/dhcp/codec.ts";
import { Discoverer } from "../../discovery/discoverer.ts";
import { DiscoveryMetrics } from "../../discovery/metrics.ts";
import { loadPolicy } from "../../discovery/policy.ts";
import { HARDWARE, type Hardware } from "../../lib/api/tinkerbell.ts";
import { Informer } from "../../lib/kube/informer.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { createLogger } from "../../lib/log.ts";
import { packet } from "../fixtures/dhcp.ts";
import { createNamespace, testKubeConfig } from "../harness/kube.ts";

const kc = testKubeConfig();
const client = new KubeClient(kc);
let ns: string;
let informer: Informer<Hardware>;

function discover(mac: number[]): Uint8Array {
  const chaddr = new Uint8Array(16);
  chaddr.set(mac);
  return encode(
    packet(
      [
        [53, Uint8Array.of(1)],
        [60, Uint8Array.from(Buffer.from("PXEClient:Arch:00007:UNDI:003000"))],
        [93, Uint8Array.of(0, 7)],
      ],
      { chaddr },
    ),
  );
}

beforeAll(async () => {
  ns = await createNamespace(kc.makeApiClient(CoreV1Api), "flood");
  informer = new Informer<Hardware>(kc, HARDWARE, { namespace: ns });
  await informer.start();
});
afterAll(() => informer.stop());

describe("a flood of random MACs", () => {
  it("is capped per minute and by the number of pending servers, and every refusal is counted", async () => {
    let clock = Date.parse("2026-11-24T12:00:00Z");
    const metrics = new DiscoveryMetrics();
    const discoverer = new Discoverer({
      client,
      hardware: informer,
      policy: loadPolicy(undefined, {
        namespace: ns,
        addresses: { range: "10.60.0.1-10.60.0.250", netmask: "255.255.255.0" },
        limits: { creationsPerMinute: 3, maxPending: 5 },
      }),
      metrics,
      log: createLogger("test", "error"),
      now: () => clock,
    });
    const macs = fc.sample(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }), {
      numRuns: 40,
      seed: 7,
    });
    const outcomes: string[] = [];
    for (const mac of macs.slice(0, 20))
      outcomes.push((await discoverer.handle(discover(mac), "0.0.0.0:68")).result);
    expect(outcomes.filter((o) => o === "created")).toHaveLength(3);
    clock += 61_000; // a minute later: room for 3 more, but only 2 more pending are allowed
    for (const mac of macs.slice(20))
      outcomes.push((await discoverer.handle(discover(mac), "0.0.0.0:68")).result);
    expect(outcomes.filter((o) => o === "created")).toHaveLength(5);
    expect((await client.list<Hardware>(HARDWARE, ns)).items).toHaveLength(5);
    const text = await metrics.registry.metrics();
    expect(text).toContain('metalpool_discovery_rejections_total{reason="rate-limit"} 17');
    expect(text).toContain('metalpool_discovery_rejections_total{reason="pending-cap"} 18');
  });
});
