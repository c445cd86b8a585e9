#!/usr/bin/env node
/**
 * metalpool-discovery: listens passively for DHCP next to the provisioning network's DHCP server and creates
 * a Tinkerbell Hardware object for every PXE client whose MAC no Hardware knows. Flags (each with a
 * METALPOOL_* env twin) → policy → informer → listener.
 */
import { Command } from "commander";
import { HARDWARE, type Hardware } from "../lib/api/tinkerbell.ts";
import { flag, withCommonFlags } from "../lib/flags.ts";
import { loadKubeConfig } from "../lib/kube/config.ts";
import { Informer, mergeInformers } from "../lib/kube/informer.ts";
import { KubeClient } from "../lib/kube/rest.ts";
import { parseDuration } from "../lib/api/quantity.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { startOpsServer } from "../lib/ops-server.ts";
import { DEFAULT_API_CONCURRENCY, Discoverer } from "./discoverer.ts";
import { slimHardware } from "./hardware.ts";
import { listen } from "./listener.ts";
import { DiscoveryMetrics } from "./metrics.ts";
import { loadPolicy, type Policy } from "./policy.ts";

interface DiscoveryFlags {
  kubeconfig?: string;
  namespace?: string[] | string;
  metricsAddr: string;
  logLevel: string;
  listen: string;
  policy?: string;
  targetNamespace?: string;
  ipRange?: string;
  netmask?: string;
  gateway?: string;
  apiConcurrency: string;
}

/**
 * Packets being handled at once. Admission answers at once (O(1), no I/O), so what stays in flight is an
 * admitted client waiting for its create (at most --api-concurrency run at once), which the policy's
 * limits bound, or a known client's last-seen patch. Room for a whole rack booting at once: a 5,000-client
 * burst must not overflow the queue while the first creates are still running.
 */
const MAX_IN_FLIGHT = 8192;
/** Packets read but not yet handled, past MAX_IN_FLIGHT; beyond it they are dropped (queue-full). */
const MAX_QUEUED = 1024;

export function discoveryCommand(): Command {
  return withCommonFlags(new Command("metalpool-discovery"))
    .description(
      "Creates Tinkerbell Hardware for unknown PXE clients; listens passively next to smee and never answers.",
    )
    .addOption(
      flag(
        "--listen <addr:port>",
        "where to listen for DHCP (address reuse: shares the port with smee)",
        "0.0.0.0:67",
      ),
    )
    .addOption(
      flag(
        "--policy <file>",
        "policy file (YAML or JSON): namespace, accepted relays, auto-approve rules, addresses, limits",
      ),
    )
    .addOption(flag("--target-namespace <ns>", "namespace for new Hardware (overrides the policy file)"))
    .addOption(
      flag(
        "--ip-range <start-end>",
        "addresses for new Hardware, e.g. 10.77.0.100-10.77.0.199 (overrides the policy file)",
      ),
    )
    .addOption(flag("--netmask <mask>", "netmask for new Hardware (overrides the policy file)"))
    .addOption(flag("--gateway <ip>", "gateway for new Hardware (overrides the policy file)"))
    .addOption(
      flag(
        "--api-concurrency <n>",
        "Kubernetes API calls (creates, last-seen patches) at once; admitted clients wait their turn",
        String(DEFAULT_API_CONCURRENCY),
      ),
    )
    .showHelpAfterError();
}

function overrides(o: DiscoveryFlags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o.targetNamespace) out.namespace = o.targetNamespace;
  const addresses = {
    ...(o.ipRange ? { range: o.ipRange } : {}),
    ...(o.netmask ? { netmask: o.netmask } : {}),
    ...(o.gateway ? { gateway: o.gateway } : {}),
  };
  if (Object.keys(addresses).length) out.addresses = addresses;
  return out;
}

/** Deletes expired pending Hardware on a timer, when the policy asks for it; one sweep at a time. */
function startReaper(discoverer: Discoverer, policy: Policy, log: Logger): NodeJS.Timeout | undefined {
  if (!policy.limits.deleteExpiredPending) return undefined;
  // Often enough that an expired entry goes within a quarter of the expiry, at most once a minute.
  const every = Math.min(60_000, Math.max(1_000, parseDuration(policy.limits.pendingExpiry) / 4));
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    discoverer
      .deleteExpiredPending()
      .catch((err: unknown) => log.warn({ err: String(err) }, "deleting expired pending Hardware failed"))
      .finally(() => (running = false));
  }, every);
  timer.unref();
  return timer;
}

async function main(): Promise<void> {
  const o = discoveryCommand().parse().opts<DiscoveryFlags>();
  const log = createLogger("metalpool-discovery", o.logLevel);
  const policy = loadPolicy(o.policy, overrides(o));
  const apiConcurrency = Number(o.apiConcurrency);
  if (!Number.isInteger(apiConcurrency) || apiConcurrency < 1)
    throw new Error(`--api-concurrency must be a positive integer, got "${o.apiConcurrency}"`);
  const kc = loadKubeConfig(o.kubeconfig);
  const metrics = new DiscoveryMetrics();
  const namespaces = typeof o.namespace === "string" ? o.namespace.split(",").filter(Boolean) : o.namespace;
  // Known MACs come from every watched namespace (default: all), so a server typed by hand anywhere is known.
  const informers = (namespaces?.length ? namespaces : [undefined]).map(
    (namespace) =>
      new Informer<Hardware>(kc, HARDWARE, {
        namespace,
        onError: (err) => log.warn({ err: String(err) }, "Hardware watch error; retrying"),
        transform: slimHardware,
      }),
  );
  const ops = await startOpsServer({
    listen: o.metricsAddr,
    registry: metrics.registry,
    readiness: () => (informers.every((i) => i.hasSynced()) ? null : "Hardware cache not synced"),
  });
  await Promise.all(informers.map((i) => i.start()));
  const hardware = mergeInformers(informers);
  const discoverer = new Discoverer({
    client: new KubeClient(kc),
    hardware,
    policy,
    metrics,
    log,
    apiConcurrency,
  });
  const listener = await listen(
    o.listen,
    (bytes, from, receivedAt) => discoverer.handle(bytes, from, receivedAt),
    {
      maxInFlight: MAX_IN_FLIGHT,
      maxQueued: MAX_QUEUED,
      onDrop: () => metrics.rejected("queue-full"),
      onError: (err) =>
        log.error({ err: err instanceof Error ? err.message : String(err) }, "packet handling failed"),
    },
  );
  const reaper = startReaper(discoverer, policy, log);
  log.info(
    {
      listen: o.listen,
      port: listener.port,
      metrics: o.metricsAddr,
      metricsPort: ops.port,
      namespace: policy.namespace,
      range: policy.addresses.range,
      recvBufferBytes: listener.recvBufferBytes,
    },
    "listening",
  );
  if (listener.recvBufferBytes < 1024 * 1024)
    log.warn(
      { recvBufferBytes: listener.recvBufferBytes },
      "the kernel granted a small UDP receive buffer; a burst of PXE clients may be lost before discovery reads it (raise net.core.rmem_max to 4 MiB)",
    );
  const shutdown = async (): Promise<void> => {
    if (reaper) clearInterval(reaper);
    await listener.close();
    for (const i of informers) i.stop();
    await ops.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown());
  process.on("SIGINT", () => void shutdown());
}

main().catch((err: unknown) => {
  process.stderr.write(`metalpool-discovery: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
