/**
 * The API server's ceiling for the scale-up loop's own writes: the writes a scale-up makes per member (the
 * operator's claim and Workflow, the simulator's three status writes), replayed with no operator at all —
 * no reads, no decisions, no waiting on watches — by `concurrency` members at once, each member's writes in
 * order, while the watches the loop has are open (a Hardware informer and two Workflow informers, as the
 * operator and the simulator hold). The raw create rate is the API server's best case for small creates
 * nobody watches; this is its best case for exactly the loop's work, so "loop writes/s ÷ replay writes/s"
 * says how much of what the API server can give the operator actually takes.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { HARDWARE, WORKFLOW, type Hardware, type Workflow } from "../../lib/api/tinkerbell.ts";
import { Informer } from "../../lib/kube/informer.ts";
import { resourcePath, type KubeClient } from "../../lib/kube/rest.ts";
import { claim } from "../../operator/pool/hardware-writes.ts";
import { buildWorkflow } from "../../operator/provision/workflow.ts";
import { simulatedStatus } from "../harness/workflow-simulator.ts";
import { cpuSeconds } from "../harness/proc-stats.ts";
import { forEachBounded } from "./bounded.ts";

const NAMESPACE = { group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false };
/** The states the simulator writes, in order. */
const STATES = ["PENDING", "RUNNING", "SUCCESS"] as const;

export interface ReplayResult {
  members: number;
  concurrency: number;
  writes: number;
  seconds: number;
  writesPerSecond: number;
  apiserverCpuPercent: number;
}

/**
 * In a scratch namespace: creates `members` Hardware with `makeHardware` (not timed), then times the
 * replay of the scale-up writes for each, and deletes what it made.
 */
export async function replayScaleUpWrites(opts: {
  kc: KubeConfig;
  client: KubeClient;
  apiserverPid: number;
  namespace: string;
  members: number;
  concurrency: number;
  makeHardware: (namespace: string, name: string, i: number) => Hardware;
}): Promise<ReplayResult> {
  const { kc, client, namespace: ns, members } = opts;
  await client.create(NAMESPACE, { metadata: { name: ns } });
  const hardware: Hardware[] = [];
  await forEachBounded(members, 16, async (i) => {
    hardware[i] = await client.create(
      HARDWARE,
      opts.makeHardware(ns, `replay-${String(i).padStart(5, "0")}`, i),
    );
  });
  const watches = [
    new Informer<Hardware>(kc, HARDWARE, { namespace: ns }),
    new Informer<Workflow>(kc, WORKFLOW, { namespace: ns }),
    new Informer<Workflow>(kc, WORKFLOW, { namespace: ns }),
  ];
  try {
    for (const w of watches) await w.start();
    const pool = { name: "replay", namespace: ns, uid: "00000000-0000-4000-8000-00000000feed" };
    const cpu0 = cpuSeconds(opts.apiserverPid);
    const start = performance.now();
    await forEachBounded(members, opts.concurrency, async (i) => {
      const seen = hardware[i];
      if (!seen) throw new Error(`replay: Hardware ${i} was not created`);
      const claimed = await claim(client, seen, pool, new Date());
      if (!claimed) throw new Error(`replay: the claim of ${seen.metadata.name ?? ""} conflicted`);
      let wf = await client.create(
        WORKFLOW,
        buildWorkflow({
          hw: claimed,
          poolUID: pool.uid,
          poolName: pool.name,
          template: "metalpool-replay",
          purpose: "provision",
          attempt: 1,
          netbootViaBmc: false,
        }),
      );
      for (const state of STATES)
        wf = await client.patch<Workflow>(
          WORKFLOW,
          ns,
          wf.metadata.name ?? "",
          { status: simulatedStatus(wf, state) },
          "merge",
          { subresource: "status" },
        );
    });
    const seconds = (performance.now() - start) / 1000;
    const cpu = cpuSeconds(opts.apiserverPid) - cpu0;
    const writes = members * (2 + STATES.length);
    return {
      members,
      concurrency: opts.concurrency,
      writes,
      seconds: Math.round(seconds * 100) / 100,
      writesPerSecond: Math.round((writes / seconds) * 10) / 10,
      apiserverCpuPercent: Math.round((cpu / seconds) * 100),
    };
  } finally {
    for (const w of watches) w.stop();
    await client.request("DELETE", resourcePath(WORKFLOW, ns));
    await client.request("DELETE", resourcePath(HARDWARE, ns));
  }
}
