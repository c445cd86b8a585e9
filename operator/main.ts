#!/usr/bin/env node
/**
 * metalpool-operator: reconciles BaremetalPools. Flags (each with a METALPOOL_* env twin) → wiring → run.
 * Losing the leader Lease ends the process (as controller-runtime does) so a restarted Pod starts clean.
 */
import { hostname } from "node:os";
import { Command } from "commander";
import { parseDuration } from "../lib/api/quantity.ts";
import { flag, withCommonFlags } from "../lib/flags.ts";
import { loadKubeConfig } from "../lib/kube/config.ts";
import { LeaderElector } from "../lib/kube/lease.ts";
import { requestLimitFromFlags } from "../lib/kube/rate-limit.ts";
import { limitRequests } from "../lib/kube/rest.ts";
import type { SecretPolicy } from "../lib/kube/secret-policy.ts";
import { createLogger } from "../lib/log.ts";
import { startOpsServer } from "../lib/ops-server.ts";
import { PoolController } from "./controller.ts";
import { OperatorMetrics } from "./metrics.ts";
import { powerDrivers } from "./power-drivers.ts";

interface OperatorFlags {
  kubeconfig?: string;
  namespace?: string[] | string;
  metricsAddr: string;
  logLevel: string;
  leaderElect: boolean | string;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  identity: string;
  workers: string;
  resync: string;
  retryBackoff: string;
  leaseDuration: string;
  secretNamespaces: string;
  allowInsecureBmc: boolean | string;
  approveVouched: boolean | string;
  kubeApiQps: string;
  kubeApiBurst: string;
}

/**
 * The client-side request limit by default: a pass over a 1000-member pool (about a thousand requests) goes
 * in one burst, anything larger at 500 a second; README "Scale" has the measurements behind it.
 */
const KUBE_API_QPS = "500";
const KUBE_API_BURST = "1000";

export function operatorCommand(): Command {
  return withCommonFlags(new Command("metalpool-operator"))
    .description(
      "Reconciles BaremetalPools: claims Tinkerbell Hardware, creates MachineDeployments, provisions and releases servers.",
    )
    .addOption(flag("--leader-elect <bool>", "elect a leader on a Lease so only one replica acts", "true"))
    .addOption(
      flag(
        "--leader-election-namespace <ns>",
        "namespace of the leader Lease",
        process.env.POD_NAMESPACE ?? "default",
      ),
    )
    .addOption(flag("--leader-election-id <name>", "name of the leader Lease", "metalpool-operator"))
    .addOption(
      flag("--identity <id>", "this replica's identity in the Lease", `${hostname()}-${process.pid}`),
    )
    .addOption(flag("--workers <n>", "pools reconciled in parallel", "2"))
    .addOption(flag("--resync <duration>", "re-examine every pool at least this often", "5m"))
    .addOption(
      flag(
        "--retry-backoff <duration>",
        "wait before a failed provisioning attempt is retried (doubles each attempt)",
        "30s",
      ),
    )
    .addOption(
      flag("--lease-duration <duration>", "leader Lease duration (renew deadline is 2/3 of it)", "15s"),
    )
    .addOption(
      flag(
        "--secret-namespaces <ns,...>",
        "namespaces, besides a pool's or Hardware's own, that Secret references may point into",
        "",
      ),
    )
    .addOption(
      flag(
        "--allow-insecure-bmc <bool>",
        "allow plain-http BMC endpoints (credentials then cross the network unencrypted)",
        "false",
      ),
    )
    .addOption(
      flag(
        "--approve-vouched <bool>",
        "approve a pending discovered server when a known BMC (a bmc.tinkerbell.org Machine in its namespace) reports its MAC or UUID",
        "false",
      ),
    )
    .addOption(
      flag(
        "--kube-api-qps <n>",
        "requests a second this operator sends its API server after a burst (0: no limit; watches are not limited)",
        KUBE_API_QPS,
      ),
    )
    .addOption(
      flag(
        "--kube-api-burst <n>",
        "requests that may go at once before --kube-api-qps applies",
        KUBE_API_BURST,
      ),
    )
    .showHelpAfterError();
}

async function main(): Promise<void> {
  const cmd = operatorCommand().parse();
  const o = cmd.opts<OperatorFlags>();
  const log = createLogger("metalpool-operator", o.logLevel);
  const kc = loadKubeConfig(o.kubeconfig);
  const metrics = new OperatorMetrics();
  const limit = requestLimitFromFlags(o.kubeApiQps, o.kubeApiBurst);
  if (limit) metrics.watchRequestLimit(limitRequests(kc, limit));
  const workers = Number(o.workers);
  if (!Number.isInteger(workers) || workers < 1)
    throw new Error(`--workers must be a positive integer, got "${o.workers}"`);
  const namespaces = typeof o.namespace === "string" ? o.namespace.split(",").filter(Boolean) : o.namespace;
  const secretPolicy: SecretPolicy = {
    extraNamespaces: o.secretNamespaces
      .split(",")
      .map((n) => n.trim())
      .filter(Boolean),
    allowInsecureBmc: String(o.allowInsecureBmc) === "true",
  };
  let elector: LeaderElector | undefined;
  const controller = new PoolController({
    kc,
    namespaces,
    workers,
    resyncMs: parseDuration(o.resync),
    retryBackoffMs: parseDuration(o.retryBackoff),
    log,
    metrics,
    power: powerDrivers(kc, log, secretPolicy, (operation, result, seconds) =>
      metrics.observeBmc(operation, result, seconds),
    ),
    secretPolicy,
    leading: () => !elector || elector.isLeader(),
    approveVouched: String(o.approveVouched) === "true",
  });
  const leaderElect = String(o.leaderElect) !== "false";
  let leading = !leaderElect;
  const ops = await startOpsServer({
    listen: o.metricsAddr,
    registry: metrics.registry,
    readiness: () => (controller.hasSynced() ? null : "caches not synced"),
  });
  log.info(
    {
      metrics: o.metricsAddr,
      port: ops.port,
      namespaces: namespaces ?? "all",
      leaderElect,
      approveVouched: String(o.approveVouched) === "true",
    },
    "starting",
  );
  await controller.startInformers();
  log.info("caches synced");

  let stopping = false;
  const shutdown = async (code: number, why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, "shutting down");
    await controller.deactivate();
    await elector?.stop();
    controller.stopInformers();
    await ops.close();
    process.exit(code);
  };
  process.on("SIGTERM", () => void shutdown(0, "SIGTERM"));
  process.on("SIGINT", () => void shutdown(0, "SIGINT"));

  if (leaderElect) {
    const leaseMs = parseDuration(o.leaseDuration);
    // Its own kubeconfig, so no limit: lease renewals never queue behind a busy pass (client-go gives leader
    // election its own client, and so its own rate limiter, for the same reason).
    elector = new LeaderElector(loadKubeConfig(o.kubeconfig), {
      namespace: o.leaderElectionNamespace,
      name: o.leaderElectionId,
      identity: o.identity,
      leaseDurationMs: leaseMs,
      renewDeadlineMs: Math.floor((leaseMs * 2) / 3),
      retryPeriodMs: Math.max(500, Math.floor(leaseMs / 7)),
      onStartedLeading: (signal) => {
        leading = true;
        metrics.leader.set(1);
        log.info({ identity: o.identity }, "became leader");
        controller.activate(signal);
      },
      onStoppedLeading: () => {
        metrics.leader.set(0);
        if (leading) void shutdown(1, "lost leadership");
      },
      onError: (err) =>
        log.warn({ err: err instanceof Error ? err.message : String(err) }, "leader election error"),
      onObserved: (transitions) => metrics.leaseTransitions.set({ lease: o.leaderElectionId }, transitions),
    });
    elector.start();
  } else {
    metrics.leader.set(1);
    controller.activate();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`metalpool-operator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
