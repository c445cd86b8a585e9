/** Runs the real metalpool-operator program as a child process against the test control plane. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_DIR } from "./control-plane.ts";
import { startProcess, type ManagedProcess } from "./process.ts";

export interface OperatorProcess extends ManagedProcess {
  identity: string;
  logFile: string;
}

export function startOperator(opts: {
  kubeconfig: string;
  namespace: string;
  identity: string;
  extraArgs?: string[];
}): OperatorProcess {
  const logFile = join(mkdtempSync(join(tmpdir(), "metalpool-op-")), "operator.log");
  const proc = startProcess(
    `operator-${opts.identity}`,
    process.execPath,
    [
      join(REPO_DIR, "operator/main.ts"),
      "--kubeconfig",
      opts.kubeconfig,
      "--namespace",
      opts.namespace,
      "--metrics-addr",
      "127.0.0.1:0",
      "--leader-election-namespace",
      opts.namespace,
      "--identity",
      opts.identity,
      "--lease-duration",
      "3s",
      "--retry-backoff",
      "1s",
      "--resync",
      "10s",
      "--log-level",
      "debug",
      ...(opts.extraArgs ?? []),
    ],
    { logFile },
  );
  return Object.assign(proc, { identity: opts.identity, logFile });
}
