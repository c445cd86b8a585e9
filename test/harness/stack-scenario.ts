/**
 * What every end-to-end test on the real Tinkerbell stack starts with (test/stack): a namespace, the
 * provisioning lab with one server `srv1` (its BMC Secret, BMC Machine and Hardware created) and
 * metalpool-discovery beside smee, a watch recording every state each Workflow shows, the real operator
 * program, and a real Prometheus scraping the operator and discovery from before any pool exists.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { inject } from "vitest";
import { BMC_MACHINE, HARDWARE, WORKFLOW, type Workflow } from "../../lib/api/tinkerbell.ts";
import { Informer } from "../../lib/kube/informer.ts";
import { World } from "../operator/fixtures.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "./kube.ts";
import { startOperator, type OperatorProcess } from "./operator.ts";
import { startPrometheus, type Prometheus } from "./prometheus.ts";
import { startProvisioningLab, type ProvisioningLab } from "./provisioning-lab.ts";

export interface StackScenario {
  ns: string;
  world: World;
  lab: ProvisioningLab;
  operator: OperatorProcess;
  prom: Prometheus;
  /** When Prometheus first had every target (Unix seconds): the dashboards' time range starts here. */
  scrapedFrom: number;
  /** Every state each Workflow showed, in order, as the watch delivered them. */
  states: Map<string, string[]>;
  /** Stops what started, in reverse; safe to call after a partial start. */
  stop(): Promise<void>;
}

export async function startStackScenario(opts: {
  namespacePrefix: string;
  identity: string;
}): Promise<StackScenario> {
  const kc = testKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const stops: (() => unknown)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const ns = await createNamespace(core, opts.namespacePrefix);
    const world = new World(kc, ns);
    const lab = await startProvisioningLab({
      kubeconfigPath: kubeconfigPath(),
      apiServer: inject("apiServer"),
      namespace: ns,
      servers: ["srv1"],
      // Unknown servers get pending Hardware with an address of the lab's network.
      discovery: {
        addresses: { range: "10.213.0.100-10.213.0.150", netmask: "255.255.255.0", gateway: "10.213.0.1" },
      },
    });
    stops.push(() => lab.stop());
    const { secret, bmcMachine, hardware } = lab.objects("srv1", ns);
    await core.createNamespacedSecret({ namespace: ns, body: secret });
    await world.client.create(BMC_MACHINE, bmcMachine);
    await world.client.create(HARDWARE, hardware);
    const states = new Map<string, string[]>();
    const workflows = new Informer<Workflow>(kc, WORKFLOW, { namespace: ns });
    const record = (wf: Workflow): void => {
      const name = wf.metadata.name ?? "";
      const seen = states.get(name) ?? [];
      const state = wf.status?.state;
      if (state && seen.at(-1) !== state) seen.push(state);
      states.set(name, seen);
    };
    workflows.on("add", record).on("update", record);
    await workflows.start();
    stops.push(() => workflows.stop());
    const operator = startOperator({
      kubeconfig: kubeconfigPath(),
      namespace: ns,
      identity: opts.identity,
      // The lab's BMC speaks plain http (as rufio reaches it); the operator reads its inventory too.
      // The default Lease (not the harness's 3 s): QEMU under TCG keeps a core busy, and a replica that
      // misses a renewal exits by design.
      extraArgs: ["--allow-insecure-bmc", "true", "--lease-duration", "15s"],
    });
    stops.push(() => operator.stop());
    // Scraping from before the pool exists, so every counter's rise is seen.
    const targets = [await operator.opsUrl(), lab.discovery?.metricsUrl ?? ""].map((u) => new URL(u).host);
    const prom = await startPrometheus(targets);
    stops.push(() => prom.stop());
    return { ns, world, lab, operator, prom, scrapedFrom: Math.floor(Date.now() / 1000), states, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
