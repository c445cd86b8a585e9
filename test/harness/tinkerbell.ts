/**
 * The real Tinkerbell v0.25 services — smee (DHCP, TFTP, iPXE scripts), tink-server (the agents' gRPC
 * API), tink-controller (Workflows, bootOptions) and rufio (bmc Jobs) — as the one `tinkerbell` program,
 * built from its Go module by hack/build-tinkerbell.sh (cached), running inside a test network's namespace
 * on its bridge (shared notes: tinkerbell-stack.md). It reaches the test API server through the network's
 * relay, so the network must be `routed` for the test to reach tink-server on the bridge address.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fetch } from "undici";
import { REPO_DIR } from "./control-plane.ts";
import type { TestNetwork } from "./netns.ts";
import { waitFor } from "./ports.ts";
import { startProcess, type ManagedProcess } from "./process.ts";

export const HTTP_PORT = 7080;
export const GRPC_PORT = 42113;

export interface TinkerbellStack {
  /** Where VMs and the test reach it: the bridge address. */
  readonly address: string;
  /** tink-server's gRPC endpoint (host:port). */
  readonly grpcAddress: string;
  /** The directory holding the WorkflowService .proto files of the same Tinkerbell version. */
  readonly protoDir: string;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/** The `tinkerbell` binary: METALPOOL_TINKERBELL when set, else built (once) by hack/build-tinkerbell.sh. */
export function tinkerbellBinary(): string {
  const fromEnv = process.env.METALPOOL_TINKERBELL;
  if (fromEnv) return fromEnv;
  return execFileSync("bash", [join(REPO_DIR, "hack/build-tinkerbell.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
}

/** A kubeconfig whose server is the relay on the network's host side: the namespace's way to the API server. */
export function relayedKubeconfig(source: string, server: string): string {
  return readFileSync(source, "utf8").replace(/^(\s*server:\s*).*$/m, `$1${server}`);
}

export async function startTinkerbell(
  net: TestNetwork,
  opts: {
    kubeconfigPath: string;
    apiServer: string;
    /** Where iPXE fetches the provisioning OS (kernel `vmlinuz-x86_64`, initramfs), e.g. a harness server. */
    osieUrl: string;
    /** The only namespace it watches (other tests' objects stay theirs). */
    namespace: string;
  },
): Promise<TinkerbellStack> {
  const binary = tinkerbellBinary();
  const protoDir = join(dirname(binary), "proto");
  const dir = mkdtempSync(join(tmpdir(), "metalpool-tink-"));
  const api = new URL(opts.apiServer);
  const relayPort = await net.relay({ host: api.hostname, port: Number(api.port) });
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    relayedKubeconfig(opts.kubeconfigPath, `https://${net.hostAddress}:${relayPort}`),
  );
  const address = net.bridgeAddress;
  const logFile = join(dir, "tinkerbell.log");
  const proc: ManagedProcess = startProcess(
    "tinkerbell",
    "ip",
    [
      "netns",
      "exec",
      net.name,
      binary,
      "--backend=kube",
      `--backend-kube-config=${kubeconfig}`,
      `--backend-kube-namespace=${opts.namespace}`,
      "--enable-smee=true",
      "--enable-tink-server=true",
      "--enable-tink-controller=true",
      "--enable-rufio-controller=true",
      "--enable-tootles=false",
      "--enable-secondstar=false",
      "--enable-ui=false",
      "--enable-crd-migrations=false",
      `--public-ipv4=${address}`,
      // All addresses of the namespace: VMs come over the bridge, the test over the veth.
      "--bind-address=0.0.0.0",
      `--http-port=${HTTP_PORT}`,
      "--tink-server-bind-addr=0.0.0.0",
      `--tink-server-bind-port=${GRPC_PORT}`,
      `--ipxe-script-tink-server-addr-port=${address}:${GRPC_PORT}`,
      "--dhcp-mode=reservation",
      "--dhcp-bind-interface=br0",
      "--syslog-enabled=false",
      `--ipxe-http-script-osie-url=${opts.osieUrl}`,
    ],
    { logFile },
  );
  const logTail = (lines = 40): string =>
    existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-lines).join("\n") : "";
  const stop = async (): Promise<void> => {
    await proc.stop(5_000);
    if (!process.env.METALPOOL_KEEP_TEST_LOGS) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      "tinkerbell /readyz",
      async () => {
        if (proc.exited()) throw new Error(`tinkerbell exited:\n${logTail()}`);
        const res = await fetch(`http://${address}:${HTTP_PORT}/readyz`);
        await res.text();
        return res.ok;
      },
      60_000,
      250,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, grpcAddress: `${address}:${GRPC_PORT}`, protoDir, logTail, stop };
}
