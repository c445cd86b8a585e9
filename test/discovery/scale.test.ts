/**
 * The short run of the discovery benchmark (test/bench/discovery-run.ts), so it cannot rot: the real
 * metalpool-discovery program, 200 PXE clients whose first DISCOVERs all go out within one second, PXE's
 * resends for those not yet seen as Hardware. Correctness only: every client gets exactly one Hardware.
 * How fast is the benchmark's business (`npm run bench:scale -- --discovery-clients …`), not a timed test's.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { ANNOTATION } from "../../lib/api/labels.ts";
import { HARDWARE, type Hardware } from "../../lib/api/tinkerbell.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { RACK_BURST_LIMITS, clientMac, runDiscovery } from "../bench/discovery-run.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "../harness/kube.ts";

const CLIENTS = 200;

describe("a rack of PXE clients booting at once", () => {
  it("gets one Hardware per client, none lost and none twice", { timeout: 180_000 }, async () => {
    const kc = testKubeConfig();
    const ns = await createNamespace(kc.makeApiClient(CoreV1Api), "disc-scale");
    const result = await runDiscovery({
      clients: CLIENTS,
      kubeconfig: kubeconfigPath(),
      namespace: ns,
      limits: RACK_BURST_LIMITS,
    });
    expect({ lost: result.lost, duplicates: result.duplicates, foreign: result.foreign }).toEqual({
      lost: 0,
      duplicates: 0,
      foreign: 0,
    });
    expect(result.created).toBe(CLIENTS);
    const items = (await new KubeClient(kc).list<Hardware>(HARDWARE, ns)).items;
    expect(items.map((h) => h.spec.interfaces?.[0]?.dhcp?.mac).sort()).toEqual(
      Array.from({ length: CLIENTS }, (_, i) => clientMac(i)).sort(),
    );
    // Every client got its own address, and its own SMBIOS UUID was kept.
    expect(new Set(items.map((h) => h.spec.interfaces?.[0]?.dhcp?.ip?.address)).size).toBe(CLIENTS);
    expect(new Set(items.map((h) => h.metadata.annotations?.[ANNOTATION.uuid])).size).toBe(CLIENTS);
    expect(result.rejections["api-error"] ?? 0).toBe(0);
  });
});
