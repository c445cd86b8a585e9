/** Runs the real metalpool-operator program as a child process against the test control plane. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { REPO_DIR } from "./control-plane.ts";
import { waitFor } from "./ports.ts";
import { startProcess, type ManagedProcess } from "./process.ts";

export interface OperatorProcess extends ManagedProcess {
  identity: string;
  logFile: string;
  /** Base URL of /metrics, /healthz, /readyz (the port is chosen by the kernel and logged at start). */
  opsUrl(): Promise<string>;
  /** The last lines of the log, for a failing test's message. */
  logTail(lines?: number): string;
}

async function loggedPort(logFile: string): Promise<number> {
  let port = 0;
  await waitFor(
    "the operator to log its ops port",
    () => {
      const line = readFileSync(logFile, "utf8")
        .split("\n")
        .find((l) => l.includes('"msg":"starting"'));
      port = line ? (JSON.parse(line) as { port: number }).port : 0;
      return Promise.resolve(port > 0);
    },
    30_000,
  );
  return port;
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
  const stopProcess = proc.stop.bind(proc);
  return Object.assign(proc, {
    identity: opts.identity,
    logFile,
    opsUrl: async () => `http://127.0.0.1:${await loggedPort(logFile)}`,
    logTail: (lines = 40) =>
      existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-lines).join("\n") : "",
    // Nothing is left behind unless asked for (METALPOOL_KEEP_TEST_LOGS=1 keeps the logs to read later).
    stop: async (graceMs?: number) => {
      await stopProcess(graceMs);
      if (!process.env.METALPOOL_KEEP_TEST_LOGS) rmSync(dirname(logFile), { recursive: true, force: true });
    },
  });
}
