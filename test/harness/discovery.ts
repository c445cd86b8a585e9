/** Runs the real metalpool-discovery program on loopback with a policy file, for UDP tests. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { kubeconfigPath } from "./kube.ts";
import { freePort } from "./ports.ts";
import { startProgram, type ProgramProcess } from "./program.ts";

export interface DiscoveryProcess {
  proc: ProgramProcess;
  /** The UDP port it listens on (127.0.0.1). */
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
