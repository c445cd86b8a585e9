/** Runs the real metalpool-discovery program with a policy file: on loopback for UDP tests, or in a test network. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { kubeconfigPath } from "./kube.ts";
import type { TestNetwork } from "./netns.ts";
import { freePort } from "./ports.ts";
import { startProgram, type ProgramProcess } from "./program.ts";
import { relayedKubeconfig } from "./tinkerbell.ts";

export interface DiscoveryProcess {
  proc: ProgramProcess;
  /** The UDP port it listens on (127.0.0.1, or every address of a test network's namespace). */
  port: number;
  /** Base URL of its /metrics. */
  metricsUrl: string;
  /** Stops the program and removes its policy file. */
  stop(): Promise<void>;
}

export async function startDiscovery(
  namespace: string,
  policy: Record<string, unknown>,
): Promise<DiscoveryProcess> {
  const dir = mkdtempSync(join(tmpdir(), "metalpool-policy-"));
  writeFileSync(join(dir, "policy.yaml"), stringify({ namespace, ...policy }));
  const port = await freePort();
  const proc = startProgram("discovery", [
    "--kubeconfig",
    kubeconfigPath(),
    "--namespace",
    namespace,
    "--listen",
    `127.0.0.1:${port}`,
    "--metrics-addr",
    "127.0.0.1:0",
    "--policy",
    join(dir, "policy.yaml"),
  ]);
  const metricsUrl = `http://127.0.0.1:${await proc.logged<number>("listening", "metricsPort")}`;
  return {
    proc,
    port,
    metricsUrl,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs the real metalpool-discovery program inside a test network's namespace, as it is deployed: on port
 * 67 of every address there, beside smee (address reuse; it never answers), hearing the VMs' broadcasts on
 * the bridge. It reaches the API server through a relay of the network, and serves /metrics on the
 * namespace side of the veth, where a Prometheus in the root namespace scrapes it.
 */
export async function startDiscoveryOn(
  net: TestNetwork,
  opts: { kubeconfigPath: string; apiServer: string; namespace: string; policy: Record<string, unknown> },
): Promise<DiscoveryProcess> {
  const dir = mkdtempSync(join(tmpdir(), "metalpool-policy-"));
  writeFileSync(join(dir, "policy.yaml"), stringify({ namespace: opts.namespace, ...opts.policy }));
  const api = new URL(opts.apiServer);
  const relayPort = await net.relay({ host: api.hostname, port: Number(api.port) });
  writeFileSync(
    join(dir, "kubeconfig"),
    relayedKubeconfig(opts.kubeconfigPath, `https://${net.hostAddress}:${relayPort}`),
  );
  const proc = startProgram(
    "discovery",
    [
      "--kubeconfig",
      join(dir, "kubeconfig"),
      // Known MACs from the test's namespace only: other files' Hardware is theirs.
      "--namespace",
      opts.namespace,
      "--listen",
      "0.0.0.0:67",
      "--metrics-addr",
      `${net.nsAddress}:0`,
      "--policy",
      join(dir, "policy.yaml"),
    ],
    { wrapper: ["ip", "netns", "exec", net.name] },
  );
  const stop = async (): Promise<void> => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const metricsUrl = `http://${net.nsAddress}:${await proc.logged<number>("listening", "metricsPort")}`;
    return { proc, port: 67, metricsUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
