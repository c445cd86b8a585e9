/**
 * One discovery-scale measurement: the real metalpool-discovery program against an API server, and a load
 * generator that plays N PXE clients booting at once. Each client has its own MAC and SMBIOS UUID and sends
 * its DHCPDISCOVER over UDP to discovery's --listen address on loopback; the N first DISCOVERs go out
 * within `burstMs`, and a client not yet seen as Hardware resends after 4, 8, 16 and 32 s as PXE firmware
 * does (PXE 2.1: four retries with doubling timeouts), waits 32 s more, then gives up. Hardware is seen by a watch in this
 * process; latency is from a client's first DISCOVER to its Hardware's watch event. A client is lost when
 * it has no Hardware once its last timeout has run out; a duplicate is a MAC with more than one Hardware.
 * Used by the benchmark (`npm run bench:scale -- --discovery-clients …`) and, small, by the integration
 * test test/discovery/scale.test.ts, which asserts correctness only.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createSocket, type Socket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { HARDWARE, hardwareMacs, type Hardware } from "../../lib/api/tinkerbell.ts";
import { Informer } from "../../lib/kube/informer.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { pxeDiscover } from "../fixtures/dhcp.ts";
import { freePort } from "../harness/ports.ts";
import { crdFiles, installCrds, startControlPlane } from "../harness/control-plane.ts";
import { RssSampler, cpuSeconds, findDescendant } from "../harness/proc-stats.ts";
import { startProgram } from "../harness/program.ts";
import { rawCreates } from "./scale-run.ts";

/** Seconds a PXE client waits before each resend of its DISCOVER: sent at 0, 4, 12, 28 and 60 s. */
export const PXE_RESENDS_AFTER_S = [4, 8, 16, 32] as const;
/** Seconds it waits for an offer after its last DISCOVER before it gives up (then: lost). */
export const PXE_LAST_WAIT_S = 32;

export interface DiscoveryRunOptions {
  clients: number;
  kubeconfig: string;
  /** Where discovery creates Hardware and what it watches; must exist and hold no Hardware. */
  namespace: string;
  /** The first DISCOVER of every client goes out within this many ms (default 1000). */
  burstMs?: number;
  /**
   * The policy's limits for the run. The defaults are for hostile floods (30 creations a minute); a rack
   * booting at once needs them raised, as the README's "Scale" section says.
   */
  limits?: Record<string, unknown>;
  /** Extra flags for metalpool-discovery. */
  discoveryArgs?: string[];
  /** Run dist/discovery/main.js (what the image runs; needs `npm run build`) instead of the source. */
  built?: boolean;
  /** NODE_OPTIONS for discovery (e.g. the chart's heap settings). */
  nodeOptions?: string;
  log?: (line: string) => void;
}

export interface DiscoveryRunResult {
  clients: number;
  /** Hardware discovery created for our clients. */
  created: number;
  /** Clients without Hardware when their last timeout ran out. */
  lost: number;
  /** MACs with more than one Hardware. */
  duplicates: number;
  /** Hardware in the namespace whose MAC is none of our clients'. */
  foreign: number;
  /** From the first DISCOVER sent to the last Hardware seen. */
  seconds: number;
  hardwarePerSecond: number;
  /** From a client's first DISCOVER to its Hardware's watch event, ms. */
  latencyMs: { p50: number; p99: number; max: number };
  /** DISCOVERs sent, first ones and resends. */
  packetsSent: number;
  /** Clients that had to resend at least once before their Hardware appeared. */
  clientsThatResent: number;
  /** Discovery's own counters at the end. */
  rejections: Record<string, number>;
  discoveryRssMiB: { start: number; peak: number; end: number };
  /** V8's heap (used, total) and memory outside it, by discovery's own metrics at the end, MiB. */
  discoveryMemoryMiB: { heapUsed: number; heapTotal: number; external: number };
  /** CPU discovery used from its first packet to the last Hardware. */
  discoveryCpuSeconds: number;
  /** The UDP receive buffer the kernel granted discovery. */
  recvBufferBytes: number;
}

interface Client {
  mac: string;
  bytes: Uint8Array;
  firstSentAt: number;
  /** DISCOVERs sent so far. */
  sends: number;
  nextAt: number;
  seenAt?: number;
}

/** Client i's MAC: locally administered (02:…), unique for i < 2^24. */
export function clientMac(i: number): string {
  return ["02", "6d", "70", (i >> 16) & 255, (i >> 8) & 255, i & 255]
    .map((b) => (typeof b === "string" ? b : b.toString(16).padStart(2, "0")))
    .join(":");
}

/** Client i's SMBIOS UUID in option 97's wire form (type 0, then 16 bytes): unique per client. */
function clientUuid(i: number): Uint8Array {
  const uuid = new Uint8Array(17);
  uuid.set([0, 0x6d, 0x70, 0x6f, 0x6f, (i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255], 0);
  uuid.set([0x40, 0, 0x80, 0, 0, 0, 0, 0], 9);
  return uuid;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
const mib = (b: number): number => round(b / 2 ** 20, 1);

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

async function udpSocket(): Promise<Socket> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ address: "127.0.0.1", port: 0 }, () => resolve());
  });
  return socket;
}

function send(socket: Socket, bytes: Uint8Array, port: number): Promise<void> {
  return new Promise((resolve, reject) =>
    socket.send(bytes, port, "127.0.0.1", (err) => (err ? reject(err) : resolve())),
  );
}

/** From discovery's /metrics: rejections by reason (those above 0) and where its memory is. */
async function scrape(
  metricsUrl: string,
): Promise<Pick<DiscoveryRunResult, "rejections" | "discoveryMemoryMiB">> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const rejections: Record<string, number> = {};
  for (const m of text.matchAll(/^metalpool_discovery_rejections_total\{reason="([^"]+)"\} (\S+)$/gm))
    if (Number(m[2])) rejections[m[1] as string] = Number(m[2]);
  const sample = (name: string): number =>
    mib(Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN));
  return {
    rejections,
    discoveryMemoryMiB: {
      heapUsed: sample("nodejs_heap_size_used_bytes"),
      heapTotal: sample("nodejs_heap_size_total_bytes"),
      external: sample("nodejs_external_memory_bytes"),
    },
  };
}

/** The real program on loopback with a policy file; its log gives the ports and the receive buffer. */
async function startBenchDiscovery(opts: DiscoveryRunOptions, cleanup: (() => unknown)[]) {
  const dir = mkdtempSync(join(tmpdir(), "metalpool-bench-policy-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  // Room for every client: a /16 from 10.90.0.1 on.
  const policy = {
    namespace: opts.namespace,
    acceptDirect: true,
    addresses: { range: "10.90.0.1-10.90.255.254", netmask: "255.255.0.0", gateway: "10.90.0.0" },
    ...(opts.limits ? { limits: opts.limits } : {}),
  };
  writeFileSync(join(dir, "policy.yaml"), stringify(policy));
  const port = await freePort();
  const args = [
    ...["--kubeconfig", opts.kubeconfig, "--namespace", opts.namespace, "--listen", `127.0.0.1:${port}`],
    ...["--metrics-addr", "127.0.0.1:0", "--policy", join(dir, "policy.yaml"), "--log-level", "info"],
    ...(opts.discoveryArgs ?? []),
  ];
  const proc = startProgram("discovery", args, {
    built: opts.built ?? false,
    ...(opts.nodeOptions ? { wrapper: ["env", `NODE_OPTIONS=${opts.nodeOptions}`] } : {}),
  });
  cleanup.push(() => proc.stop());
  const metricsUrl = `http://127.0.0.1:${await proc.logged<number>("listening", "metricsPort")}`;
  const recvBufferBytes = await proc.logged<number>("listening", "recvBufferBytes");
  const pid = findDescendant(proc.child.pid ?? 0, "discovery/main.");
  if (!pid) throw new Error("discovery's node process not found under its tether");
  return { port, metricsUrl, recvBufferBytes, pid };
}

/** The PXE clients: what each sent and when, and when its Hardware was seen. */
class PxeFleet {
  readonly clients: Client[];
  readonly byMac: Map<string, Client>;
  packetsSent = 0;
  seen = 0;
  lastSeenAt = 0;
  /** Resolves when every client has been seen as Hardware. */
  readonly allSeen: Promise<void>;
  private resolveAllSeen: () => void = () => undefined;

  constructor(n: number) {
    this.clients = Array.from({ length: n }, (_, i) => ({
      mac: clientMac(i),
      bytes: pxeDiscover(clientMac(i), { uuid: clientUuid(i) }),
      firstSentAt: 0,
      sends: 0,
      nextAt: Number.POSITIVE_INFINITY,
    }));
    this.byMac = new Map(this.clients.map((c) => [c.mac, c]));
    this.allSeen = new Promise<void>((resolve) => (this.resolveAllSeen = resolve));
  }

  /** A Hardware appeared (watch event): its client stops resending. */
  observe(hw: Hardware): void {
    const now = performance.now();
    for (const mac of hardwareMacs(hw)) {
      const c = this.byMac.get(mac);
      if (!c || c.seenAt !== undefined) continue;
      c.seenAt = now;
      this.lastSeenAt = now;
      if (++this.seen === this.clients.length) this.resolveAllSeen();
    }
  }

  private async send(socket: Socket, port: number, c: Client, now: number): Promise<void> {
    const wait = PXE_RESENDS_AFTER_S[c.sends];
    c.sends += 1;
    c.nextAt = wait === undefined ? Number.POSITIVE_INFINITY : now + wait * 1000;
    this.packetsSent += 1;
    await send(socket, c.bytes, port);
  }

  /** Every client's first DISCOVER, spread evenly over `burstMs` in 10 ms slots. */
  async burst(socket: Socket, port: number, burstMs: number): Promise<void> {
    const n = this.clients.length;
    const start = performance.now();
    const slots = Math.max(1, Math.floor(burstMs / 10));
    for (let s = 0; s < slots; s++) {
      const wait = start + (s * burstMs) / slots - performance.now();
      if (wait > 0) await sleep(wait);
      for (const c of this.clients.slice(Math.floor((s * n) / slots), Math.floor(((s + 1) * n) / slots))) {
        c.firstSentAt = performance.now();
        await this.send(socket, port, c, c.firstSentAt);
      }
    }
  }

  /**
   * Resends each client's DISCOVER while it is not seen as Hardware and its firmware has not given up, until
   * every client is seen or the last one gives up.
   */
  async resend(socket: Socket, port: number): Promise<void> {
    const giveUpMs = (PXE_RESENDS_AFTER_S.reduce((a, b) => a + b, 0) + PXE_LAST_WAIT_S) * 1000;
    const end = Math.max(...this.clients.map((c) => c.firstSentAt)) + giveUpMs;
    let done = false;
    void this.allSeen.then(() => (done = true));
    while (!done && performance.now() < end) {
      const now = performance.now();
      for (const c of this.clients)
        if (c.seenAt === undefined && c.nextAt <= now) await this.send(socket, port, c, now);
      await sleep(50);
    }
  }

  /** Latencies of the clients seen, first DISCOVER to Hardware, ascending (ms). */
  latencies(): number[] {
    return this.clients
      .filter((c) => c.seenAt !== undefined)
      .map((c) => (c.seenAt as number) - c.firstSentAt)
      .sort((a, b) => a - b);
  }
}

export async function runDiscovery(opts: DiscoveryRunOptions): Promise<DiscoveryRunResult> {
  const n = opts.clients;
  const log = opts.log ?? (() => undefined);
  const burstMs = opts.burstMs ?? 1000;
  const cleanup: (() => unknown)[] = [];
  try {
    const { port, metricsUrl, recvBufferBytes, pid } = await startBenchDiscovery(opts, cleanup);
    const rss = new RssSampler(pid, 200);
    cleanup.push(() => rss.stop());
    const rssStart = rss.sample();

    const kc = new KubeConfig();
    kc.loadFromFile(opts.kubeconfig);
    const fleet = new PxeFleet(n);
    const watch = new Informer<Hardware>(kc, HARDWARE, { namespace: opts.namespace });
    watch.on("add", (hw) => fleet.observe(hw));
    await watch.start();
    cleanup.push(() => watch.stop());
    if (watch.list().length) throw new Error(`namespace ${opts.namespace} already holds Hardware`);
    const socket = await udpSocket();
    cleanup.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));

    log(`  discovery: ${n} clients, first DISCOVERs within ${burstMs} ms (discovery pid ${pid})`);
    const cpu0 = cpuSeconds(pid);
    const start = performance.now();
    await fleet.burst(socket, port, burstMs);
    await fleet.resend(socket, port);
    const cpu = cpuSeconds(pid) - cpu0;
    const rssEnd = rss.sample();
    if (fleet.seen < n) log(`  discovery: ${n - fleet.seen} clients without Hardware when they gave up`);

    const listed = await new KubeClient(kc).list<Hardware>(HARDWARE, opts.namespace);
    const perMac = new Map<string, number>();
    for (const hw of listed.items)
      for (const mac of hardwareMacs(hw)) perMac.set(mac, (perMac.get(mac) ?? 0) + 1);
    const latencies = fleet.latencies();
    const seconds = (fleet.lastSeenAt - start) / 1000;
    const clients = fleet.clients;
    return {
      clients: n,
      created: clients.filter((c) => perMac.has(c.mac)).length,
      lost: clients.filter((c) => c.seenAt === undefined).length,
      duplicates: [...perMac.values()].filter((count) => count > 1).length,
      foreign: [...perMac.keys()].filter((mac) => !fleet.byMac.has(mac)).length,
      seconds: round(seconds),
      hardwarePerSecond: round(fleet.seen / seconds, 1),
      latencyMs: {
        p50: round(quantile(latencies, 0.5), 0),
        p99: round(quantile(latencies, 0.99), 0),
        max: round(latencies.at(-1) ?? Number.NaN, 0),
      },
      packetsSent: fleet.packetsSent,
      clientsThatResent: clients.filter((c) => c.seenAt !== undefined && c.sends > 1).length,
      ...(await scrape(metricsUrl)),
      discoveryRssMiB: { start: mib(rssStart), peak: mib(rss.peakBytes), end: mib(rssEnd) },
      discoveryCpuSeconds: round(cpu),
      recvBufferBytes,
    };
  } finally {
    for (const c of cleanup.reverse()) await c();
  }
}

/**
 * The policy limits a site booting a whole rack (here: up to 10,000 servers) at once needs: the defaults
 * (30 creations a minute, 20 per source, 100 pending) are for hostile floods and would take hours.
 */
export const RACK_BURST_LIMITS = {
  creationsPerMinute: 10_000,
  perSource: { creationsPerMinute: 10_000, burst: 10_000 },
  maxPending: 10_000,
};

/**
 * The DISCOVER → Hardware p99 (ms) a creator doing nothing but create at `rate` a second would reach, the
 * first DISCOVERs of `n` clients going out evenly within `burstMs`: client i's Hardware exists no sooner
 * than it asked, nor sooner than i + 1 creations take.
 */
export function latencyFloorP99Ms(n: number, burstMs: number, rate: number): number {
  const latencies: number[] = [];
  let done = 0;
  for (let i = 0; i < n; i++) {
    const sent = (i * burstMs) / n;
    done = Math.max(sent, done) + 1000 / rate;
    latencies.push(done - sent);
  }
  return round(
    quantile(
      latencies.sort((a, b) => a - b),
      0.99,
    ),
    0,
  );
}

export interface DiscoveryBenchResult {
  clients: number;
  raw: {
    count: number;
    serialPerSecond: number;
    concurrent16PerSecond: number;
    concurrent16AfterPerSecond: number;
  };
  run: DiscoveryRunResult;
  /** Hardware/s ÷ the mean of the raw concurrency-16 create rates before and after. */
  ratioToRaw: number;
  /** latencyFloorP99Ms at that mean raw rate: what no creator on this API server can beat. */
  latencyFloorP99Ms: number;
  /** NODE_OPTIONS discovery ran with ("" for none). */
  nodeOptions: string;
}

/** For one N on a fresh control plane: the raw create rate, discovery's run, the raw rate again. */
export async function benchDiscovery(opts: {
  clients: number;
  rawCount: number;
  discoveryArgs?: string[];
  nodeOptions?: string;
  log: (line: string) => void;
}): Promise<DiscoveryBenchResult> {
  const cp = await startControlPlane();
  try {
    await installCrds(cp, crdFiles());
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const client = new KubeClient(kc);
    const apiserver = findDescendant(process.pid, "kube-apiserver --etcd-servers") ?? 0;
    opts.log(
      `discovery N=${opts.clients}: raw create rate (${opts.rawCount} Hardware serially, then at concurrency 16)`,
    );
    const serial = await rawCreates(client, apiserver, "raw-serial", opts.rawCount, 1);
    const c16 = await rawCreates(client, apiserver, "raw-c16", opts.rawCount, 16);
    opts.log(`  serial ${serial.perSecond}/s, concurrency 16 ${c16.perSecond}/s`);
    await client.create(
      { group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false },
      { metadata: { name: "discovered" } },
    );
    const run = await runDiscovery({
      clients: opts.clients,
      kubeconfig: cp.kubeconfigPath,
      namespace: "discovered",
      limits: RACK_BURST_LIMITS,
      built: true,
      ...(opts.discoveryArgs ? { discoveryArgs: opts.discoveryArgs } : {}),
      ...(opts.nodeOptions ? { nodeOptions: opts.nodeOptions } : {}),
      log: opts.log,
    });
    opts.log(
      `  ${run.created} Hardware in ${run.seconds} s (${run.hardwarePerSecond}/s), p99 ${run.latencyMs.p99} ms, lost ${run.lost}, duplicates ${run.duplicates}`,
    );
    const after = await rawCreates(client, apiserver, "raw-after", opts.rawCount, 16);
    const rawRate = (c16.perSecond + after.perSecond) / 2;
    return {
      clients: opts.clients,
      raw: {
        count: opts.rawCount,
        serialPerSecond: serial.perSecond,
        concurrent16PerSecond: c16.perSecond,
        concurrent16AfterPerSecond: after.perSecond,
      },
      run,
      ratioToRaw: round(run.hardwarePerSecond / rawRate),
      latencyFloorP99Ms: latencyFloorP99Ms(opts.clients, 1000, rawRate),
      nodeOptions: opts.nodeOptions ?? "",
    };
  } finally {
    await cp.stop();
  }
}
