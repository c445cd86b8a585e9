/**
 * Alert rules and the Grafana dashboards shipped in the chart, checked with the pinned Prometheus
 * (hack/build-prometheus.sh): promtool unit-tests the alerts, and a real Prometheus scrapes a running
 * operator and metalpool-discovery through the SIMULATED scenario of test/harness/dashboards.ts, which
 * produces what the real-stack scenarios (test/stack) cannot cheaply: failed attempts and a quarantine, a
 * scale-down with wipe and release, a BMC nobody answers, DHCP the API server refuses to make Hardware of.
 * The counters are checked against what happened, and every dashboard panel the scenario must show is.
 */
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HARDWARE, type Hardware } from "../../lib/api/tinkerbell.ts";
import { LABEL } from "../../lib/api/labels.ts";
import { LEASE, microTime, type Lease } from "../../lib/kube/lease.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import { REPO_DIR } from "../harness/control-plane.ts";
import { createNamespace, kubeconfigPath, testKubeConfig } from "../harness/kube.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { checkScenario } from "../harness/dashboards.ts";
import { startDiscovery, type DiscoveryProcess } from "../harness/discovery.ts";
import { freePort, waitFor } from "../harness/ports.ts";
import { promtool, startPrometheus, type Prometheus } from "../harness/prometheus.ts";
import { pxeDiscover, send } from "../discovery/client.ts";
import { WorkflowSimulator } from "../harness/workflow-simulator.ts";
import { World, hardware, poolObject } from "../operator/fixtures.ts";

const files = join(REPO_DIR, "charts/metalpool/files");
const ALERTS = [
  "MetalpoolNoLeader",
  "MetalpoolPoolNotReady",
  "MetalpoolServersQuarantined",
  "MetalpoolProvisioningFailures",
  "MetalpoolReconcileErrors",
  "MetalpoolProvisioningSlow",
  "MetalpoolPoolShortOfHardware",
  "MetalpoolBMCUnreachable",
  "MetalpoolBMCCredentialsRefused",
  "MetalpoolDiscoveryAtPendingCap",
  "MetalpoolDiscoveryRejecting",
  "MetalpoolLeaderFlapping",
];

describe("alert rules", () => {
  it("pass promtool's checks and unit tests", () => {
    expect(promtool("check", "rules", join(files, "alerts.yaml"))).toContain(`SUCCESS: ${ALERTS.length} rules found`);
    expect(promtool("test", "rules", join(REPO_DIR, "test/charts/alerts.promtool.yaml"))).toContain("SUCCESS");
  });
});

describe("a real Prometheus scraping the operator and discovery", () => {
  const kc = testKubeConfig();
  let ns = "";
  let world: World;
  let prom: Prometheus | undefined;
  let operator: OperatorProcess | undefined;
  let sim: WorkflowSimulator | undefined;
  let discovery: DiscoveryProcess | undefined;
  /** When Prometheus first had every target (Unix seconds): the dashboards' time range starts here. */
  let scrapedFrom = 0;
  /** Renews the Lease of a leader that was there before this operator, until it "dies". */
  let previousLeader: NodeJS.Timeout | undefined;
  /** BMCs that answer every request with this HTTP status. */
  const answering: Server[] = [];
  const bmcAnswering = async (status: number): Promise<string> => {
    const server = createServer((_req, res) => res.writeHead(status).end());
    answering.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  };

  const withRole = (name: string, role: string, annotations: Record<string, string> = {}): Hardware => {
    const hw = hardware(ns, name, { labels: { role } });
    hw.metadata.annotations = annotations;
    return hw;
  };
  const pool = (name: string, replicas: number, provisioning: Record<string, unknown> = {}): ReturnType<typeof poolObject> => {
    const p = poolObject(ns, name, { replicas, hardwareSelector: { matchLabels: { role: name } } });
    p.spec.provisioning = { ...p.spec.provisioning, ...provisioning };
    return p;
  };
  const value = async (expr: string): Promise<number | undefined> => {
    const v = (await prom?.query(expr))?.data?.result[0]?.value[1];
    return v === undefined ? undefined : Number(v);
  };
  const waitForValue = (expr: string, want: number): Promise<void> => waitFor(`${expr} == ${want}`, async () => (await value(expr)) === want, 60_000);

  beforeAll(async () => {
    ns = await createNamespace(kc.makeApiClient(CoreV1Api), "prom");
    world = new World(kc, ns);
    // A previous leader that still renews: the operator starts as a standby and takes over once the renewals
    // stop, a hand-over the fleet dashboard's "Leader changes" must count as one (the Lease changed hands 4
    // times before this operator first read it).
    let lease = await world.client.create<Lease>(LEASE, {
      metadata: { namespace: ns, name: "metalpool-operator" },
      spec: { holderIdentity: "prom-previous", leaseDurationSeconds: 3, renewTime: microTime(Date.now()), leaseTransitions: 4 },
    });
    previousLeader = setInterval(() => {
      lease.spec.renewTime = microTime(Date.now());
      // A renewal that failed (a conflict, a slow API server) is retried from a fresh read.
      world.client
        .update(LEASE, lease)
        .catch(() => world.client.get<Lease>(LEASE, ns, "metalpool-operator"))
        .then((l) => (lease = l), () => undefined);
    }, 500);
    // Every Workflow of the flaky server fails; everything else (provisioning, wipes) succeeds.
    sim = new WorkflowSimulator(kc, ns, (wf) => (wf.spec.hardwareRef === "flaky-1" ? "fail" : "succeed"));
    sim.start();
    // A retry backoff longer than the harness's second, so the flaky server's wait between its two attempts
    // (phase Failed) spans several scrapes and the pool dashboard's "Failed, awaiting retry" must show it.
    operator = startOperator({ kubeconfig: kubeconfigPath(), namespace: ns, identity: "prom", extraArgs: ["--allow-insecure-bmc", "true", "--retry-backoff", "5s"] });
    // Discovery whose Hardware goes to a namespace that does not exist: the API server refuses every create.
    discovery = await startDiscovery(ns, {
      namespace: `${ns}-missing`,
      addresses: { range: "10.60.0.10-10.60.0.20", netmask: "255.255.255.0" },
    });
    // Scraping from before the first claim, so every counter's rise is seen.
    prom = await startPrometheus([await operator.opsUrl(), discovery.metricsUrl].map((u) => new URL(u).host), [join(files, "alerts.yaml")]);
    scrapedFrom = Math.floor(Date.now() / 1000);
    // The standby's view of the Lease is scraped; then the previous leader stops renewing.
    await waitForValue("max(metalpool_leader_lease_transitions)", 4);
    clearInterval(previousLeader);
    // Leading before any pool exists, as a running operator would be: a pool whose first pass comes with the
    // take-over can be Ready (simulated Workflows are quick) before the first scrape of its counters, which are
    // then born holding it, and increase() cannot see that (README, Not yet).
    await waitForValue("max(metalpool_leader)", 1);
    // Two unknown PXE clients (one retrying) and a datagram that is not DHCP.
    await send(discovery.port, [pxeDiscover("52:54:00:ee:00:01"), pxeDiscover("52:54:00:ee:00:01"), pxeDiscover("52:54:00:ee:00:02"), Uint8Array.of(1, 2, 3)]);
    await kc.makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: ns, body: { metadata: { name: "bmc" }, stringData: { username: "u", password: "p" } } });
    // Free servers whose inventory reads fail: a BMC nobody answers (unreachable), one that refuses the
    // credentials (unauthorized), one that fails (server), and one whose Secret does not exist (config).
    const bmc = (endpoint: string, secret = "bmc"): Record<string, string> => ({ "metalpool.io/bmc-endpoint": endpoint, "metalpool.io/bmc-secret": secret });
    await world.client.create(HARDWARE, withRole("spare-1", "spare", bmc(`http://127.0.0.1:${await freePort()}`)));
    await world.client.create(HARDWARE, withRole("spare-2", "spare", bmc(await bmcAnswering(401))));
    await world.client.create(HARDWARE, withRole("spare-3", "spare", bmc(await bmcAnswering(500))));
    await world.client.create(HARDWARE, withRole("spare-4", "spare", bmc(`http://127.0.0.1:${await freePort()}`, "no-such-secret")));
    for (const [name, role] of [["observed-1", "observed"], ["flaky-1", "flaky"], ["shrinking-1", "shrinking"], ["nobmc-1", "nobmc"]] as const)
      await world.client.create(HARDWARE, withRole(name, role));
    // Every pool is scaled up only once Prometheus has scraped its counters at 0: a pool's counters are born
    // at its first pass, and one whose attempt fails or succeeds (simulated Workflows are quick) before the
    // next scrape has them born holding it, which increase() cannot see (README, Not yet).
    await world.client.create(POOL, pool("observed", 0));
    await world.client.create(POOL, pool("flaky", 0, { maxAttempts: 2 }));
    // Powered through a bmc Job, but its only server has no bmcRef: the attempt fails, the server is quarantined.
    await world.client.create(POOL, pool("nobmc", 0, { power: "TinkerbellBMC", maxAttempts: 1 }));
    await world.client.create(POOL, pool("shrinking", 0));
    const pools = ["observed", "flaky", "nobmc", "shrinking"];
    await waitForValue(`count(metalpool_provisioning_attempts_total{namespace="${ns}", result="success"})`, pools.length);
    for (const name of pools) await world.setReplicas(name, 1);
    await world.until("observed", "ready", (p) => p.status?.readyReplicas === 1);
    await world.until("shrinking", "ready", (p) => p.status?.readyReplicas === 1);
    await world.setReplicas("shrinking", 0);
    await world.until("shrinking", "released", (p) => (p.status?.members ?? []).length === 0);
    await waitFor("the flaky server quarantined", async () => (await world.hardware()).some((h) => h.metadata.name === "flaky-1" && h.metadata.labels?.[LABEL.quarantined] === "true"), 60_000);
    await waitForValue(`sum(metalpool_quarantines_total{namespace="${ns}"})`, 2);
  });

  afterAll(async () => {
    clearInterval(previousLeader);
    sim?.stop();
    await prom?.stop();
    for (const server of answering) await new Promise<void>((resolve) => server.close(() => resolve()));
    await discovery?.stop();
    await operator?.stop();
  });

  it("loads the alert rules, all healthy", async () => {
    type Rules = { data: { groups: { rules: { name: string; health: string }[] }[] } };
    const rules = async (): Promise<Rules> => (await (await fetch(`${prom?.url}/api/v1/rules`)).json()) as Rules;
    await waitFor("rules evaluated", async () => (await rules()).data.groups.flatMap((g) => g.rules).every((rule) => rule.health === "ok"), 30_000);
    expect((await rules()).data.groups.flatMap((g) => g.rules.map((r) => r.name))).toEqual(ALERTS);
  });

  it("counts what happened: outcomes by result and reason, quarantines, wipes, releases, BMC requests, servers by state", async () => {
    const pools = (name: string): string => `namespace="${ns}", pool="${name}"`;
    await waitForValue(`sum(metalpool_provisioning_attempts_total{${pools("observed")}, result="success"})`, 1);
    await waitForValue(`sum(metalpool_provisioning_attempts_total{${pools("flaky")}, result="failure", reason="workflow-failed"})`, 2);
    await waitForValue(`sum(metalpool_provisioning_retries_total{${pools("flaky")}, result="failure"})`, 1);
    await waitForValue(`sum(metalpool_quarantines_total{${pools("flaky")}, reason="attempts-exhausted"})`, 1);
    await waitForValue(`sum(metalpool_wipes_total{${pools("shrinking")}, result="success"})`, 1);
    await waitForValue(`sum(metalpool_releases_total{${pools("shrinking")}, result="success"})`, 1);
    await waitForValue(`sum(metalpool_provisioning_duration_seconds_count{namespace="${ns}"})`, 2);
    await waitForValue(`sum(metalpool_pool_shortage{${pools("flaky")}})`, 1);
    await waitForValue(`sum(metalpool_provisioning_attempts_total{${pools("nobmc")}, result="failure", reason="missing-bmc"})`, 1);
    await waitForValue(`sum(metalpool_hardware{namespace="${ns}", state="quarantined"})`, 2);
    await waitForValue(`sum(metalpool_hardware{namespace="${ns}", state="claimed"})`, 1);
    await waitForValue(`sum(metalpool_hardware{namespace="${ns}"})`, 8);
    for (const result of ["unreachable", "unauthorized", "server", "config"])
      await waitFor(`an inventory read counted as ${result}`, async () => ((await value(`sum(metalpool_bmc_requests_total{operation="inventory", result="${result}"})`)) ?? 0) >= 1, 60_000);
    expect(await value(`sum(metalpool_member_phase_duration_seconds_count{${pools("shrinking")}, phase="Deprovisioning"})`)).toBe(1);
    // One hand-over: from the previous leader to this operator (not 4 + 1, the Lease's whole history).
    await waitForValue("max(metalpool_leader_lease_transitions)", 5);
    expect(await value("max(max_over_time(metalpool_leader_lease_transitions[1h])) - min(min_over_time(metalpool_leader_lease_transitions[1h]))")).toBe(1);
    // Both programs say their version.
    expect(await value('count(metalpool_build_info{version!="unknown"})')).toBe(2);
    expect(await value("sum(process_resident_memory_bytes) > 0")).toBeGreaterThan(0);
    // No series names a server: the Hardware names appear in no label value.
    const series = (await (await fetch(`${prom?.url}/api/v1/series?match[]=${encodeURIComponent('{__name__=~"metalpool_.+"}')}`)).json()) as { data: Record<string, string>[] };
    expect(series.data.length).toBeGreaterThan(100);
    for (const labels of series.data) expect(Object.values(labels).join(" ")).not.toMatch(/observed-1|flaky-1|shrinking-1|nobmc-1|spare-\d/);
  });

  it("discovery counts the clients it heard, the retry, the datagram that was not DHCP and the refused creates", async () => {
    await waitForValue("sum(metalpool_discovery_packets_total)", 4);
    await waitForValue("sum(metalpool_discovery_packets_malformed_total)", 1);
    await waitForValue("sum(metalpool_discovery_unknown_clients_total)", 3);
    await waitForValue('sum(metalpool_discovery_rejections_total{reason="duplicate"})', 1);
    await waitForValue('sum(metalpool_discovery_rejections_total{reason="api-error"})', 2);
    await waitForValue('sum(metalpool_discovery_api_request_duration_seconds_count{verb="create", result="error"})', 2);
  });

  it("shows every dashboard panel this scenario should produce", async () => {
    if (!prom) throw new Error("no Prometheus");
    const { missing, report } = await checkScenario(prom, "simulated", ns, scrapedFrom);
    expect(missing, report).toEqual([]);
  });
});
