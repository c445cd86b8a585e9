/** Runs the real metalpool-operator program as a child process against the test control plane. */
import { startProgram, type ProgramProcess } from "./program.ts";

export interface OperatorProcess extends ProgramProcess {
  identity: string;
  /** Base URL of /metrics, /healthz, /readyz (the port is chosen by the kernel and logged at start). */
  opsUrl(): Promise<string>;
}

export function startOperator(opts: {
  kubeconfig: string;
  namespace: string;
  identity: string;
  extraArgs?: string[];
  /** A command the program runs under, e.g. `env FAKETIME=+30s LD_PRELOAD=…` for a skewed clock. */
  wrapper?: string[];
  /** Runs dist/operator/main.js, as the image does (for measurements; from source otherwise). */
  built?: boolean;
}): OperatorProcess {
  const proc = startProgram(
    "operator",
    [
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
    { ...(opts.wrapper ? { wrapper: opts.wrapper } : {}), ...(opts.built ? { built: true } : {}) },
  );
  return Object.assign(proc, {
    identity: opts.identity,
    opsUrl: async () => `http://127.0.0.1:${await proc.logged<number>("starting", "port")}`,
  });
}
