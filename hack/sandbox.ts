/**
 * A local metalpool sandbox: a real kube-apiserver + etcd with the real Tinkerbell and machine-controller
 * CRDs, six example servers in two racks, an example BaremetalPool, the real operator program, and the
 * WORKFLOW SIMULATOR standing in for tink-worker (no container runtime runs here, so no real server is
 * touched). Prints the kubeconfig and the pool's status as it converges; Ctrl-C tears everything down.
 *   --check   exit 0 once the example pool is Ready (exit 1 after --timeout seconds, default 120)
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { HARDWARE } from "../lib/api/tinkerbell.ts";
import { KubeClient } from "../lib/kube/rest.ts";
import { POOL } from "../operator/pool/reconcile.ts";
import type { PoolObject } from "../operator/pool/types.ts";
import {
  controlPlaneAssets,
  crdFiles,
  installCrds,
  startControlPlane,
} from "../test/harness/control-plane.ts";
import { startOperator } from "../test/harness/operator.ts";
import { WorkflowSimulator } from "../test/harness/workflow-simulator.ts";
import { hardware, poolObject } from "../test/operator/fixtures.ts";

const NAMESPACE = "metalpool-sandbox";
const check = process.argv.includes("--check");
const timeoutArg = process.argv.indexOf("--timeout");
const timeoutSeconds = timeoutArg > 0 ? Number(process.argv[timeoutArg + 1]) : 120;

function line(pool: PoolObject | null): string {
  const s = pool?.status;
  if (!s) return "waiting for the operator…";
  const ready = s.conditions?.find((c) => c.type === "Ready");
  const members = (s.members ?? []).map((m) => `${m.hardware}=${m.phase}`).join(" ");
  return `desired=${pool.spec.replicas} ready=${s.readyReplicas} provisioning=${s.provisioningReplicas} available=${s.availableHardware} Ready=${ready?.status}(${ready?.reason}) ${members}`;
}

async function main(): Promise<void> {
  console.log("starting a real kube-apiserver + etcd …");
  const cp = await startControlPlane();
  const stops: (() => Promise<void>)[] = [() => cp.stop()];
  const teardown = async (code: number): Promise<never> => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    process.exit(code);
  };
  process.on("SIGINT", () => void teardown(0));
  process.on("SIGTERM", () => void teardown(0));
  try {
    await installCrds(cp, crdFiles());
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } });
    const client = new KubeClient(kc);
    for (let i = 0; i < 6; i++) {
      await client.create(
        HARDWARE,
        hardware(NAMESPACE, `server-${i}`, {
          labels: { "metalpool.io/rack": i < 3 ? "rack-a" : "rack-b", class: "compute" },
        }),
      );
    }
    await client.create(
      POOL,
      poolObject(NAMESPACE, "workers", {
        replicas: 3,
        hardwareSelector: { matchLabels: { class: "compute" } },
        spreadKey: "metalpool.io/rack",
      }),
    );
    const sim = new WorkflowSimulator(kc, NAMESPACE);
    sim.start(1000);
    stops.push(() => Promise.resolve(sim.stop()));
    const op = startOperator({
      kubeconfig: cp.kubeconfigPath,
      namespace: NAMESPACE,
      identity: "sandbox",
      extraArgs: ["--log-level", "info"],
    });
    stops.push(() => op.stop());
    console.log(`kubeconfig: ${cp.kubeconfigPath}`);
    console.log(`operator log: ${op.logFile}`);
    console.log(
      `namespace ${NAMESPACE}: 6 Hardware (server-0..5 in rack-a/rack-b), BaremetalPool "workers" with replicas 3`,
    );
    const kubectl = join(controlPlaneAssets(), "kubectl");
    const k = existsSync(kubectl)
      ? `${kubectl} --kubeconfig ${cp.kubeconfigPath} -n ${NAMESPACE}`
      : "kubectl";
    console.log(`try (in another terminal):`);
    console.log(`  ${k} get baremetalpools,hardware,machinedeployments,workflows`);
    console.log(`  ${k} patch bmp workers --type merge -p '{"spec":{"replicas":5}}'`);
    console.log(`  ${k} describe bmp workers`);
    console.log(`Ctrl-C stops and removes everything.\n`);
    const deadline = Date.now() + timeoutSeconds * 1000;
    let last = "";
    for (;;) {
      const pool = await client.getOrNull<PoolObject>(POOL, NAMESPACE, "workers");
      const now = line(pool);
      if (now !== last) console.log(`${new Date().toISOString()} ${now}`);
      last = now;
      const ready = pool?.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
      if (check && ready) {
        console.log("sandbox check: the example pool is Ready");
        return teardown(0);
      }
      if (check && Date.now() > deadline) {
        console.error(`sandbox check: not Ready within ${timeoutSeconds}s`);
        return teardown(1);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (err) {
    console.error(`sandbox failed: ${err instanceof Error ? err.message : String(err)}`);
    return teardown(1);
  }
}

void main();
