/**
 * Kubermatic machine-controller for tests, as far as it builds here (shared notes: machine-controller.md):
 * hack/machine-controller runs the upstream MachineDeployment and MachineSet controllers and the upstream
 * baremetal/tinkerbell provider, driven by a STAND-IN for machine-controller's Machine controller. Built
 * (and cached) by hack/build-machine-controller.sh.
 *
 * Its MachineDeployments and MachineSets are deleted in the foreground, which only kube-controller-manager's
 * garbage collector completes: `startGarbageCollector` runs that controller alone (hack/
 * build-kube-controller-manager.sh), as a real cluster would.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_DIR } from "./control-plane.ts";
import { startProcess, type ManagedProcess } from "./process.ts";

export interface LoggedProcess extends ManagedProcess {
  logTail(lines?: number): string;
}

function built(envVar: string, script: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) return fromEnv;
  return execFileSync("bash", [join(REPO_DIR, "hack", script)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
}

function start(name: string, command: string, args: string[], env?: NodeJS.ProcessEnv): LoggedProcess {
  const dir = mkdtempSync(join(tmpdir(), `metalpool-${name}-`));
  const logFile = join(dir, `${name}.log`);
  const proc = startProcess(name, command, args, { logFile, ...(env ? { env } : {}) });
  const stop = proc.stop.bind(proc);
  return Object.assign(proc, {
    logTail: (lines = 40) =>
      existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-lines).join("\n") : "",
    stop: async (graceMs?: number) => {
      await stop(graceMs);
      if (!process.env.METALPOOL_KEEP_TEST_LOGS) rmSync(dir, { recursive: true, force: true });
    },
  });
}

/**
 * machine-controller acting on MachineDeployments in `namespace`. Tinkerbell is this same cluster: the
 * driver reads its kubeconfig from TINK_KUBECONFIG when the providerSpec names none, as it does in KKP.
 */
export function startMachineController(opts: { kubeconfigPath: string; namespace: string }): LoggedProcess {
  const binary = built("METALPOOL_MACHINE_CONTROLLER", "build-machine-controller.sh");
  return start(
    "machine-controller",
    binary,
    ["-kubeconfig", opts.kubeconfigPath, "-namespace", opts.namespace],
    { ...process.env, TINK_KUBECONFIG: readFileSync(opts.kubeconfigPath, "utf8") },
  );
}

/** kube-controller-manager with only its garbage collector, against the test API server. */
export function startGarbageCollector(opts: { kubeconfigPath: string }): LoggedProcess {
  const binary = built("METALPOOL_KUBE_CONTROLLER_MANAGER", "build-kube-controller-manager.sh");
  return start("kube-controller-manager", binary, [
    `--kubeconfig=${opts.kubeconfigPath}`,
    "--controllers=garbagecollector",
    "--leader-elect=false",
    "--secure-port=0",
    "--use-service-account-credentials=false",
  ]);
}
