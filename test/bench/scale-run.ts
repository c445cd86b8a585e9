/**
 * One fleet-scale measurement for N members on a fresh control plane: the API server's raw create rate,
 * then the real operator program taking a pool from 0 to N Ready members and back to 0, with Workflows run
 * by the watch-driven WorkflowSimulator. Writes are counted by the API server itself (apiserver_request_total
 * by verb and resource); CPU and memory are read from /proc.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { HARDWARE, type Hardware } from "../../lib/api/tinkerbell.ts";
import { Informer } from "../../lib/kube/informer.ts";
import { KubeClient, resourcePath, type ResourceType } from "../../lib/kube/rest.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import type { PoolObject } from "../../operator/pool/types.ts";
import {
  countsSince,
  largest,
  scrapeRequests,
  sumWrites,
  writesByKind,
  type RequestCounts,
} from "../harness/apiserver-metrics.ts";
import { crdFiles, installCrds, startControlPlane, type ControlPlane } from "../harness/control-plane.ts";
import { startOperator, type OperatorProcess } from "../harness/operator.ts";
import { RssSampler, cpuSeconds, findDescendant } from "../harness/proc-stats.ts";
import { WorkflowSimulator } from "../harness/workflow-simulator.ts";
import { forEachBounded } from "./bounded.ts";
import { replayScaleUpWrites, type ReplayResult } from "./loop-replay.ts";
import { poolObject } from "../operator/fixtures.ts";

const NAMESPACE: ResourceType = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};

export interface RunOptions {
  members: number;
  /** Runs dist/operator/main.js as the image does (the benchmark); from source otherwise (the CI smoke run). */
  built: boolean;
  /** Hardware in the namespace (at least `members`); the rest match no pool, as in a shared inventory. */
  hardware: number;
  /** Hardware created serially and again at concurrency 16 to measure the raw create rate. */
  rawCount: number;
  idleSeconds: number;
  wipeMode: "None" | "Metadata";
  simulatorConcurrency: number;
  phaseTimeoutSeconds: number;
  /** Extra operator flags, after the production defaults (e.g. --kube-api-qps 50). */
  operatorArgs: string[];
  /** NODE_OPTIONS for the operator (e.g. --max-old-space-size=192, a heap cap like a Pod's memory limit gives). */
  operatorNodeOptions?: string;
  log: (line: string) => void;
}

/** Writes in one phase, attributed by kind: who makes each is known from what it writes. */
export interface PhaseWrites {
  total: number;
  /** The operator's writes to Hardware, Workflows and pools (not Events, not its Lease). */
  operator: number;
  events: number;
  /** Leader election renewals plus kube-apiserver's own identity Lease. */
  leases: number;
  /** The workflow simulator's status writes. */
  simulator: number;
  /** The benchmark's own change of spec.replicas. */
  bench: number;
  /** The API server's own housekeeping (e.g. the kubernetes Service's endpoints). */
  other: number;
  byKind: Record<string, number>;
}

export interface PhaseResult {
  seconds: number;
  membersPerSecond: number;
  writes: PhaseWrites;
  /** Where the API server spent its time serving requests, by kind (seconds, the largest). */
  apiSeconds: Record<string, number>;
  operatorWritesPerMember: number;
  eventsPerMember: number;
  cpuSeconds: { operator: number; apiserver: number; etcd: number; bench: number };
  reconciles: number;
  /** Time spent in reconcile passes (their durations summed; passes of one pool never overlap). */
  reconcileSeconds: number;
  /** Time the operator's requests waited for its client-side limit (--kube-api-qps). */
  throttledSeconds: number;
}

export interface MemoryMiB {
  /** Live objects and garbage not yet collected. */
  heapUsed: number;
  /** What V8 holds for its heap. */
  heapTotal: number;
  /** Buffers and other memory outside the heap that JavaScript objects own. */
  external: number;
}

export interface RunResult {
  members: number;
  hardware: number;
  /** NODE_OPTIONS the operator ran with ("" for none). */
  operatorNodeOptions: string;
  raw: {
    count: number;
    serialPerSecond: number;
    concurrent16PerSecond: number;
    /** kube-apiserver's CPU use while creating at concurrency 16 (100 = one core). */
    apiserverCpuPercent: number;
    /** The concurrency-16 rate again after the loop (other work on the machine varies). */
    concurrent16AfterPerSecond: number;
  };
  up: PhaseResult;
  down: PhaseResult;
  loop: {
    seconds: number;
    writesPerSecond: number;
    operatorWritesPerSecond: number;
    ratioToRaw: number;
    /** All writes per second during the scale-up alone. */
    upWritesPerSecond: number;
    /** The scale-up's writes/s ÷ the replay's: the share of the API server's ceiling for this work. */
    upRatioToReplay: number;
  };
  /** The scale-up's writes replayed without an operator (loop-replay.ts). */
  replay: ReplayResult;
  /** Steady state after scale-up: measured once the operator has written nothing for a while (settle). */
  idle: {
    settleSeconds: number;
    seconds: number;
    operatorCpuPercent: number;
    writes: PhaseWrites;
    /** RSS at the start and end of the idle window (creep). */
    rssMiB: { start: number; end: number };
  };
  operatorRssMiB: { empty: number; peak: number; afterUp: number; idleEnd: number; end: number };
  /** V8 heap and external memory, from the operator's own metrics. */
  operatorMemoryMiB: { empty: MemoryMiB; idleEnd: MemoryMiB };
}

/** Production defaults for what the test harness shortens (lease, backoff, resync, log level). */
const PRODUCTION_FLAGS = [
  "--lease-duration",
  "15s",
  "--retry-backoff",
  "30s",
  "--resync",
  "5m",
  "--log-level",
  "info",
];

const SIMULATOR_KEY = "PATCH tinkerbell.org/workflows/status";
const BENCH_KEY = "PATCH metalpool.io/baremetalpools";
/** The groups the operator writes to besides Events and its Lease. */
const OPERATOR_GROUPS = / (tinkerbell\.org|bmc\.tinkerbell\.org|metalpool\.io|cluster\.k8s\.io)\//;

export function attribute(counts: RequestCounts): PhaseWrites {
  const events = sumWrites(counts, (k) => k.endsWith(" /events"));
  const leases = sumWrites(counts, (k) => k.includes("coordination.k8s.io/leases"));
  const simulator = sumWrites(counts, (k) => k === SIMULATOR_KEY);
  const bench = sumWrites(counts, (k) => k === BENCH_KEY);
  const total = sumWrites(counts);
  const operator = sumWrites(
    counts,
    (k) => OPERATOR_GROUPS.test(k) && k !== SIMULATOR_KEY && k !== BENCH_KEY,
  );
  return {
    total,
    operator,
    events,
    leases,
    simulator,
    bench,
    other: total - operator - events - leases - simulator - bench,
    byKind: writesByKind(counts),
  };
}

/** A Hardware as an inventory would hold it; index i gives a unique MAC and address. */
export function benchHardware(namespace: string, name: string, i: number, cls = "bench"): Hardware {
  const b = [(i >> 16) & 255, (i >> 8) & 255, i & 255];
  return {
    apiVersion: "tinkerbell.org/v1alpha1",
    kind: "Hardware",
    metadata: { name, namespace, labels: { class: cls, "metalpool.io/rack": `r${i % 40}` } },
    spec: {
      disks: [{ device: "/dev/sda" }],
      interfaces: [
        {
          dhcp: {
            mac: `52:54:00:${b.map((x) => x.toString(16).padStart(2, "0")).join(":")}`,
            arch: "x86_64",
            uefi: true,
            hostname: name,
            iface_name: "eth0",
            ip: { address: `10.${b.join(".")}`, netmask: "255.0.0.0", gateway: "10.0.0.1" },
            name_servers: ["10.0.0.1"],
          },
          netboot: { allowPXE: false, allowWorkflow: false },
        },
      ],
    },
  };
}

async function createHardware(
  client: KubeClient,
  namespace: string,
  prefix: string,
  count: number,
  concurrency: number,
  { first = 0, cls = "bench" }: { first?: number; cls?: string } = {},
): Promise<number> {
  const start = performance.now();
  await forEachBounded(count, concurrency, (j) => {
    const i = first + j;
    return client.create(
      HARDWARE,
      benchHardware(namespace, `${prefix}-${String(i).padStart(5, "0")}`, i, cls),
    );
  });
  return count / ((performance.now() - start) / 1000);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the operator has written nothing but Events and Leases for `quietSeconds` (what a finished
 * scale-up leaves behind: paced status writes, folded Events), at most `maxSeconds`; returns the wait.
 * Idle is measured after this, so it shows the steady state rather than the tail of the last phase.
 */
async function settle(cp: ControlPlane, quietSeconds: number, maxSeconds: number): Promise<number> {
  const start = performance.now();
  let last = attribute((await scrapeRequests(cp)).counts).operator;
  let quietSince = performance.now();
  while ((performance.now() - start) / 1000 < maxSeconds) {
    await sleep(1000);
    const now = attribute((await scrapeRequests(cp)).counts).operator;
    if (now !== last) {
      last = now;
      quietSince = performance.now();
    } else if ((performance.now() - quietSince) / 1000 >= quietSeconds) break;
  }
  return round((performance.now() - start) / 1000, 1);
}

/** Watches one pool; `until` resolves when its cached status satisfies `ok`. */
class PoolWatch {
  private readonly informer: Informer<PoolObject>;
  private readonly namespace: string;
  private readonly name: string;
  constructor(kc: KubeConfig, namespace: string, name: string) {
    this.informer = new Informer<PoolObject>(kc, POOL, { namespace });
    this.namespace = namespace;
    this.name = name;
  }
  start(): Promise<void> {
    return this.informer.start();
  }
  stop(): void {
    this.informer.stop();
  }
  get pool(): PoolObject | undefined {
    return this.informer.get(this.namespace, this.name);
  }
  async until(
    what: string,
    ok: (p: PoolObject) => boolean,
    timeoutMs: number,
    progress: (p: PoolObject | undefined, elapsedS: number) => void,
  ): Promise<void> {
    const start = performance.now();
    let lastReport = start;
    for (;;) {
      const p = this.pool;
      if (p && ok(p)) return;
      const now = performance.now();
      if (now - start > timeoutMs)
        throw new Error(
          `timed out after ${timeoutMs / 1000} s waiting for ${what}; status ${JSON.stringify({ ...p?.status, members: p?.status?.members?.length })}`,
        );
      if (now - lastReport > 10_000) {
        lastReport = now;
        progress(p, (now - start) / 1000);
      }
      await sleep(50);
    }
  }
}

const ready = (p: PoolObject): boolean =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true &&
  p.status.observedGeneration === p.metadata.generation;

interface Pids {
  operator: number;
  apiserver: number;
  etcd: number;
}

interface CpuMark {
  operator: number;
  apiserver: number;
  etcd: number;
  bench: number;
}

function cpuMark(pids: Pids): CpuMark {
  const self = process.cpuUsage();
  return {
    operator: cpuSeconds(pids.operator),
    apiserver: cpuSeconds(pids.apiserver),
    etcd: cpuSeconds(pids.etcd),
    bench: (self.user + self.system) / 1e6,
  };
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** The operator's ops URL, read from its log once (the log may be gone by the time it is asked again). */
const opsUrls = new WeakMap<OperatorProcess, Promise<string>>();

/** The operator's own /metrics, as text. */
async function operatorMetrics(op: OperatorProcess): Promise<string> {
  let url = opsUrls.get(op);
  if (!url) opsUrls.set(op, (url = op.opsUrl()));
  return (await fetch(`${await url}/metrics`)).text();
}

/** One sample of the operator's own /metrics, by exact series name with labels. */
async function operatorMetric(op: OperatorProcess, series: string): Promise<number> {
  const text = await operatorMetrics(op);
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return Number(line?.split(" ").at(-1) ?? 0);
}

/** The sum of every series of one metric family's samples named `name` (e.g. a histogram's _sum). */
async function operatorMetricSum(op: OperatorProcess, name: string): Promise<number> {
  const text = await operatorMetrics(op);
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1) ?? 0), 0);
}
const reconcileSeconds = (op: OperatorProcess): Promise<number> =>
  operatorMetricSum(op, "metalpool_reconcile_duration_seconds_sum");

const throttled = (op: OperatorProcess): Promise<number> =>
  operatorMetric(op, "metalpool_kube_client_throttled_seconds_total");
const reconcileCount = (op: OperatorProcess): Promise<number> =>
  operatorMetric(op, 'metalpool_reconcile_total{result="success"}');
const metricMiB = async (op: OperatorProcess, series: string): Promise<number> =>
  round((await operatorMetric(op, `nodejs_${series}`)) / 2 ** 20, 1);
/** Where the operator's memory is, by V8's and Node's account (RSS also holds code, stacks, malloc'd memory). */
async function memoryMiB(op: OperatorProcess): Promise<MemoryMiB> {
  return {
    heapUsed: await metricMiB(op, "heap_size_used_bytes"),
    heapTotal: await metricMiB(op, "heap_size_total_bytes"),
    external: await metricMiB(op, "external_memory_bytes"),
  };
}

/** Measures one phase: changes spec.replicas, waits for `done`, counts writes and CPU in between. */
async function phase(
  ctx: {
    cp: ControlPlane;
    client: KubeClient;
    watch: PoolWatch;
    pids: Pids;
    op: OperatorProcess;
    opts: RunOptions;
  },
  name: string,
  replicas: number,
  done: (p: PoolObject) => boolean,
): Promise<PhaseResult> {
  const { cp, client, watch, pids, op, opts } = ctx;
  const before = await scrapeRequests(cp);
  const cpu0 = cpuMark(pids);
  const rec0 = await reconcileCount(op);
  const recSeconds0 = await reconcileSeconds(op);
  const throttled0 = await throttled(op);
  const start = performance.now();
  await client.patch(POOL, "bench", "pool", { spec: { replicas } }, "merge");
  await watch.until(
    name,
    (p) => (p.metadata.generation ?? 0) > 0 && done(p),
    opts.phaseTimeoutSeconds * 1000,
    (p, s) =>
      opts.log(
        `  ${name}: ${round(s, 0)} s, ${p?.status?.members?.length ?? 0} members, ${p?.status?.readyReplicas ?? 0} ready`,
      ),
  );
  const seconds = (performance.now() - start) / 1000;
  const cpu1 = cpuMark(pids);
  const after = await scrapeRequests(cp);
  const writes = attribute(countsSince(after.counts, before.counts));
  return {
    seconds: round(seconds),
    membersPerSecond: round(opts.members / seconds),
    writes,
    apiSeconds: largest(countsSince(after.seconds, before.seconds)),
    operatorWritesPerMember: round(writes.operator / opts.members),
    eventsPerMember: round(writes.events / opts.members),
    cpuSeconds: {
      operator: round(cpu1.operator - cpu0.operator),
      apiserver: round(cpu1.apiserver - cpu0.apiserver),
      etcd: round(cpu1.etcd - cpu0.etcd),
      bench: round(cpu1.bench - cpu0.bench),
    },
    reconciles: (await reconcileCount(op)) - rec0,
    reconcileSeconds: round((await reconcileSeconds(op)) - recSeconds0),
    throttledSeconds: round((await throttled(op)) - throttled0),
  };
}

/** Creates `count` Hardware at `concurrency` in a scratch namespace, deleted afterwards; the rate and API server CPU. */
export async function rawCreates(
  client: KubeClient,
  apiserver: number,
  namespace: string,
  count: number,
  concurrency: number,
): Promise<{ perSecond: number; apiserverCpuPercent: number }> {
  await client.create(NAMESPACE, { metadata: { name: namespace } });
  const cpu0 = cpuSeconds(apiserver);
  const start = performance.now();
  const perSecond = await createHardware(client, namespace, "raw", count, concurrency);
  const cpu = cpuSeconds(apiserver) - cpu0;
  // Out of the way: the loop's API server should hold only the pool's inventory.
  await client.request("DELETE", resourcePath(HARDWARE, namespace));
  return {
    perSecond: round(perSecond, 1),
    apiserverCpuPercent: round((cpu / ((performance.now() - start) / 1000)) * 100, 0),
  };
}

/** Members whose scale-up writes are replayed (enough for a steady rate, bounded so N = 5,000 stays quick). */
const REPLAY_MAX_MEMBERS = 2000;
/** Members replayed at once: the operator's member-action concurrency. */
const REPLAY_CONCURRENCY = 32;

export async function runScale(opts: RunOptions): Promise<RunResult> {
  const n = opts.members;
  const cp = await startControlPlane();
  const cleanup: (() => unknown)[] = [() => cp.stop()];
  try {
    await installCrds(cp, crdFiles());
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const client = new KubeClient(kc);
    const apiserver = findDescendant(process.pid, "kube-apiserver --etcd-servers") ?? 0;
    const etcd = findDescendant(process.pid, "etcd --data-dir") ?? 0;
    if (!apiserver || !etcd)
      throw new Error("kube-apiserver or etcd not found among this process's children");
    opts.log(
      `N=${n}: raw create rate (${opts.rawCount} Hardware serially, ${opts.rawCount} at concurrency 16)`,
    );
    const serial = await rawCreates(client, apiserver, "raw-serial", opts.rawCount, 1);
    const c16 = await rawCreates(client, apiserver, "raw-c16", opts.rawCount, 16);
    opts.log(`  serial ${serial.perSecond}/s, concurrency 16 ${c16.perSecond}/s`);

    await client.create(NAMESPACE, { metadata: { name: "bench" } });
    opts.log(`  creating ${n} Hardware`);
    await createHardware(client, "bench", "server", n, 16);
    const others = Math.max(0, opts.hardware - n);
    if (others) {
      opts.log(`  creating ${others} Hardware no pool selects`);
      await createHardware(client, "bench", "other", others, 16, { first: n, cls: "other" });
    }
    await client.create(
      POOL,
      poolObject("bench", "pool", {
        replicas: 0,
        hardwareSelector: { matchLabels: { class: "bench" } },
        spreadKey: "metalpool.io/rack",
        provisioning: {
          workflowOwner: "Operator",
          power: "Manual",
          attemptTimeout: "60m",
          maxAttempts: 3,
          maxConcurrent: 100,
          wipeMode: opts.wipeMode,
        },
      }),
    );
    const watch = new PoolWatch(kc, "bench", "pool");
    await watch.start();
    cleanup.push(() => watch.stop());

    const op = startOperator({
      kubeconfig: cp.kubeconfigPath,
      namespace: "bench",
      identity: "bench",
      built: opts.built,
      extraArgs: [...PRODUCTION_FLAGS, ...opts.operatorArgs],
      ...(opts.operatorNodeOptions ? { wrapper: ["env", `NODE_OPTIONS=${opts.operatorNodeOptions}`] } : {}),
    });
    cleanup.push(() => op.stop());
    await op.logged("became leader", "identity");
    const pids: Pids = {
      operator: findDescendant(op.child.pid ?? 0, opts.built ? "operator/main.js" : "operator/main.ts") ?? 0,
      apiserver,
      etcd,
    };
    if (!pids.operator) throw new Error("the operator's node process not found under its tether");
    const rss = new RssSampler(pids.operator, 500);
    cleanup.push(() => rss.stop());
    await watch.until("the empty pool to be Ready", ready, 60_000, () => undefined);
    const empty = rss.sample();
    const emptyMemory = await memoryMiB(op);

    const sim = new WorkflowSimulator(kc, "bench");
    await sim.watch(opts.simulatorConcurrency);
    cleanup.push(() => sim.stop());

    const ctx = { cp, client, watch, pids, op, opts };
    opts.log(`  scale-up 0 → ${n} (operator pid ${pids.operator})`);
    const up = await phase(
      ctx,
      "scale-up",
      n,
      (p) => ready(p) && p.status?.readyReplicas === n && p.status.members?.length === n,
    );
    const afterUp = rss.sample();
    opts.log(`  up in ${up.seconds} s; idle ${opts.idleSeconds} s`);

    const settleSeconds = await settle(cp, 10, 180);
    const idleBefore = (await scrapeRequests(cp)).counts;
    const idleCpu0 = cpuSeconds(pids.operator);
    const idleStart = rss.sample();
    await sleep(opts.idleSeconds * 1000);
    const idleEnd = rss.sample();
    const idle = {
      settleSeconds,
      seconds: opts.idleSeconds,
      operatorCpuPercent: round(((cpuSeconds(pids.operator) - idleCpu0) / opts.idleSeconds) * 100, 2),
      writes: attribute(countsSince((await scrapeRequests(cp)).counts, idleBefore)),
      rssMiB: { start: round(idleStart / 2 ** 20, 1), end: round(idleEnd / 2 ** 20, 1) },
    };
    const idleEndMemory = await memoryMiB(op);

    opts.log(`  scale-down ${n} → 0 (wipe ${opts.wipeMode})`);
    const down = await phase(
      ctx,
      "scale-down",
      0,
      (p) => ready(p) && (p.status?.members?.length ?? -1) === 0,
    );
    if (sim.errors.length) throw new Error(`workflow simulator: ${sim.errors.slice(0, 3).join("; ")}`);
    const replayMembers = Math.min(n, REPLAY_MAX_MEMBERS);
    opts.log(`  replaying the scale-up's writes for ${replayMembers} members without an operator`);
    const replay = await replayScaleUpWrites({
      kc,
      client,
      apiserverPid: apiserver,
      namespace: "replay",
      members: replayMembers,
      concurrency: REPLAY_CONCURRENCY,
      makeHardware: (ns, name, i) => benchHardware(ns, name, n + opts.hardware + i),
    });
    opts.log(`  replay: ${replay.writesPerSecond} writes/s`);
    const after = await rawCreates(client, apiserver, "raw-after", opts.rawCount, 16);
    const raw = {
      count: opts.rawCount,
      serialPerSecond: serial.perSecond,
      concurrent16PerSecond: c16.perSecond,
      apiserverCpuPercent: c16.apiserverCpuPercent,
      concurrent16AfterPerSecond: after.perSecond,
    };
    const rawRate = (raw.concurrent16PerSecond + raw.concurrent16AfterPerSecond) / 2;
    const loopSeconds = up.seconds + down.seconds;
    const loopWrites = up.writes.total + down.writes.total;
    const mib = (b: number): number => round(b / 2 ** 20, 1);
    return {
      members: n,
      hardware: Math.max(n, opts.hardware),
      operatorNodeOptions: opts.operatorNodeOptions ?? "",
      raw,
      up,
      down,
      loop: {
        seconds: round(loopSeconds),
        writesPerSecond: round(loopWrites / loopSeconds, 1),
        operatorWritesPerSecond: round((up.writes.operator + down.writes.operator) / loopSeconds, 1),
        ratioToRaw: round(loopWrites / loopSeconds / rawRate),
        upWritesPerSecond: round(up.writes.total / up.seconds, 1),
        upRatioToReplay: round(up.writes.total / up.seconds / replay.writesPerSecond),
      },
      replay,
      idle,
      operatorRssMiB: {
        empty: mib(empty),
        peak: mib(rss.peakBytes),
        afterUp: mib(afterUp),
        idleEnd: mib(idleEnd),
        end: mib(rss.sample()),
      },
      operatorMemoryMiB: { empty: emptyMemory, idleEnd: idleEndMemory },
    };
  } finally {
    for (const c of cleanup.reverse()) await c();
  }
}
