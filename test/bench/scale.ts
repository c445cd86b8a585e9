#!/usr/bin/env node
/**
 * Fleet scale benchmark: `npm run bench:scale -- --members 100,1000,5000 --discovery-clients 1000,5000
 * [--out results.json]`. For each N, on its own control plane: the API server's raw Hardware create rate
 * (serial and at concurrency 16), then either the real operator program taking a pool of N operator-owned,
 * Manual-power members from 0 to N Ready, a quiet minute, and back to 0; or the real discovery program
 * receiving N PXE clients' DHCPDISCOVERs within one second (with PXE's resends) and creating their
 * Hardware. Prints one table (metrics × run); --out writes the full results as JSON. `--members none` or
 * `--discovery-clients none` skips that part. Both programs run as built (dist/, what the image runs): the
 * npm script builds first. See README "Scale".
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { REPO_DIR } from "../harness/control-plane.ts";
import { benchDiscovery, type DiscoveryBenchResult } from "./discovery-run.ts";
import { runScale, type RunResult } from "./scale-run.ts";

const { values } = parseArgs({
  options: {
    members: { type: "string", default: "1000" },
    hardware: { type: "string", default: "10000" },
    "discovery-clients": { type: "string", default: "1000,5000" },
    "discovery-arg": { type: "string", multiple: true, default: [] },
    "discovery-node-options": { type: "string" },
    out: { type: "string" },
    "raw-count": { type: "string", default: "1000" },
    "idle-seconds": { type: "string", default: "60" },
    "wipe-mode": { type: "string", default: "None" },
    "simulator-concurrency": { type: "string", default: "16" },
    "phase-timeout-seconds": { type: "string", default: "900" },
    "operator-arg": { type: "string", multiple: true, default: [] },
    // The chart's default (values.yaml operator.nodeOptions): the heap a Pod with its memory limit gets.
    "operator-node-options": { type: "string", default: "--max-old-space-size=192 --max-semi-space-size=16" },
  },
});

function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} wants a positive integer, got "${raw}"`);
  return n;
}

const counts = (name: string, raw: string | undefined): number[] =>
  raw === "none" ? [] : (raw ?? "").split(",").map((m) => positiveInt(name, m.trim()));
const members = counts("members", values.members);
const discoveryClients = counts("discovery-clients", values["discovery-clients"]);
/** By default discovery runs with the chart's NODE_OPTIONS, as a Pod would; "none" runs it uncapped. */
const discoveryNodeOptions =
  values["discovery-node-options"] ??
  (
    parseYaml(readFileSync(join(REPO_DIR, "charts/metalpool/values.yaml"), "utf8")) as {
      discovery: { nodeOptions: string };
    }
  ).discovery.nodeOptions;
const wipeMode = values["wipe-mode"];
if (wipeMode !== "None" && wipeMode !== "Metadata") throw new Error("--wipe-mode is None or Metadata");

const log = (line: string): void => void process.stderr.write(`${line}\n`);

type Column = { operator: RunResult } | { discovery: DiscoveryBenchResult };

/** Rows both kinds of run have: the API server's raw create rate. */
const RAW_ROWS: [string, (r: RunResult | DiscoveryBenchResult) => string | number][] = [
  ["raw creates/s, serial", (r) => r.raw.serialPerSecond],
  [
    "raw creates/s, concurrency 16, before / after the run",
    (r) => `${r.raw.concurrent16PerSecond} / ${r.raw.concurrent16AfterPerSecond}`,
  ],
];

const DISCOVERY_ROWS: [string, (r: DiscoveryBenchResult) => string | number][] = [
  ["discovery: Hardware/s (first DISCOVER → last Hardware)", (r) => r.run.hardwarePerSecond],
  ["discovery: Hardware/s ÷ raw concurrent creates/s (mean of both)", (r) => r.ratioToRaw],
  ["discovery: all Hardware after, s", (r) => r.run.seconds],
  [
    "discovery: DISCOVER → Hardware ms, p50 / p99 / max",
    (r) => `${r.run.latencyMs.p50} / ${r.run.latencyMs.p99} / ${r.run.latencyMs.max}`,
  ],
  ["discovery: p99 floor at the raw concurrent rate, ms", (r) => r.latencyFloorP99Ms],
  ["discovery: lost clients / duplicate Hardware", (r) => `${r.run.lost} / ${r.run.duplicates}`],
  [
    "discovery: DISCOVERs sent / clients that resent",
    (r) => `${r.run.packetsSent} / ${r.run.clientsThatResent}`,
  ],
  [
    "discovery: rejections by reason",
    (r) =>
      Object.entries(r.run.rejections)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ") || "none",
  ],
  [
    "discovery RSS MiB, start / peak",
    (r) => `${r.run.discoveryRssMiB.start} / ${r.run.discoveryRssMiB.peak}`,
  ],
  [
    "discovery heap used / heap total / external MiB, at the end",
    (r) =>
      `${r.run.discoveryMemoryMiB.heapUsed} / ${r.run.discoveryMemoryMiB.heapTotal} / ${r.run.discoveryMemoryMiB.external}`,
  ],
  ["discovery NODE_OPTIONS", (r) => r.nodeOptions || "none"],
  ["discovery CPU s", (r) => r.run.discoveryCpuSeconds],
];

const ROWS: [string, (r: RunResult) => string | number][] = [
  ["operator NODE_OPTIONS", (r) => r.operatorNodeOptions || "none"],
  ["scale-up 0→N Ready, s", (r) => r.up.seconds],
  ["scale-up members/s", (r) => r.up.membersPerSecond],
  ["scale-down N→0, s", (r) => r.down.seconds],
  ["scale-down members/s", (r) => r.down.membersPerSecond],
  ["operator writes/member, up (no Events)", (r) => r.up.operatorWritesPerMember],
  ["operator writes/member, down (no Events)", (r) => r.down.operatorWritesPerMember],
  ["Events/member, up + down", (r) => r.up.eventsPerMember + r.down.eventsPerMember],
  ["simulator writes/member", (r) => (r.up.writes.simulator + r.down.writes.simulator) / r.members],
  ["loop: all writes/s", (r) => r.loop.writesPerSecond],
  ["loop: writes/s ÷ raw concurrent creates/s (mean of both)", (r) => r.loop.ratioToRaw],
  ["scale-up: all writes/s", (r) => r.loop.upWritesPerSecond],
  ["replay of the scale-up's writes without an operator: writes/s", (r) => r.replay.writesPerSecond],
  ["kube-apiserver CPU % in the replay", (r) => r.replay.apiserverCpuPercent],
  ["scale-up writes/s ÷ replay writes/s", (r) => r.loop.upRatioToReplay],
  [
    "kube-apiserver CPU %: raw creates / scale-up / scale-down",
    (r) =>
      `${r.raw.apiserverCpuPercent} / ${Math.round((r.up.cpuSeconds.apiserver / r.up.seconds) * 100)} / ${Math.round((r.down.cpuSeconds.apiserver / r.down.seconds) * 100)}`,
  ],
  [
    "operator CPU %: scale-up / scale-down",
    (r) =>
      `${Math.round((r.up.cpuSeconds.operator / r.up.seconds) * 100)} / ${Math.round((r.down.cpuSeconds.operator / r.down.seconds) * 100)}`,
  ],
  ["reconcile passes, up / down", (r) => `${r.up.reconciles} / ${r.down.reconciles}`],
  ["seconds in passes, up / down", (r) => `${r.up.reconcileSeconds} / ${r.down.reconcileSeconds}`],
  ["client-side throttling s, up / down", (r) => `${r.up.throttledSeconds} / ${r.down.throttledSeconds}`],
  [
    "CPU s up: operator / apiserver / etcd / bench",
    (r) =>
      `${r.up.cpuSeconds.operator} / ${r.up.cpuSeconds.apiserver} / ${r.up.cpuSeconds.etcd} / ${r.up.cpuSeconds.bench}`,
  ],
  [
    "CPU s down: operator / apiserver / etcd / bench",
    (r) =>
      `${r.down.cpuSeconds.operator} / ${r.down.cpuSeconds.apiserver} / ${r.down.cpuSeconds.etcd} / ${r.down.cpuSeconds.bench}`,
  ],
  ["operator RSS MiB, empty pool", (r) => r.operatorRssMiB.empty],
  ["operator RSS MiB, peak", (r) => r.operatorRssMiB.peak],
  ["operator RSS MiB, N Ready (after idle)", (r) => r.operatorRssMiB.idleEnd],
  [
    "operator heap used / heap total / external MiB, N Ready",
    (r) =>
      `${r.operatorMemoryMiB.idleEnd.heapUsed} / ${r.operatorMemoryMiB.idleEnd.heapTotal} / ${r.operatorMemoryMiB.idleEnd.external}`,
  ],
  ["Hardware in the namespace", (r) => r.hardware],
  ["idle: settle s before measuring", (r) => r.idle.settleSeconds],
  ["idle operator CPU %", (r) => r.idle.operatorCpuPercent],
  ["idle operator RSS MiB, start → end", (r) => `${r.idle.rssMiB.start} → ${r.idle.rssMiB.end}`],
  [
    "idle writes: operator / Events / Leases",
    (r) => `${r.idle.writes.operator} / ${r.idle.writes.events} / ${r.idle.writes.leases}`,
  ],
];

function table(columns: Column[]): string {
  const header = [
    "metric",
    ...columns.map((c) =>
      "operator" in c ? `operator N=${c.operator.members}` : `discovery N=${c.discovery.clients}`,
    ),
  ];
  const cell = (c: Column, get: (c: Column) => string | number | undefined): string => {
    const v = get(c);
    return v === undefined ? "–" : String(v);
  };
  const rows = [
    ...RAW_ROWS.map(([name, get]) => [
      name,
      ...columns.map((c) => cell(c, (c) => get("operator" in c ? c.operator : c.discovery))),
    ]),
    ...ROWS.map(([name, get]) => [
      name,
      ...columns.map((c) => cell(c, (c) => ("operator" in c ? get(c.operator) : undefined))),
    ]),
    ...DISCOVERY_ROWS.map(([name, get]) => [
      name,
      ...columns.map((c) => cell(c, (c) => ("discovery" in c ? get(c.discovery) : undefined))),
    ]),
  ].filter(([, ...cells]) => cells.some((v) => v !== "–"));
  const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

const results: RunResult[] = [];
const discovery: DiscoveryBenchResult[] = [];
const started = new Date().toISOString();
for (const n of members) {
  results.push(
    await runScale({
      members: n,
      built: true,
      hardware: positiveInt("hardware", values.hardware ?? ""),
      rawCount: positiveInt("raw-count", values["raw-count"] ?? ""),
      idleSeconds: positiveInt("idle-seconds", values["idle-seconds"] ?? ""),
      wipeMode,
      simulatorConcurrency: positiveInt("simulator-concurrency", values["simulator-concurrency"] ?? ""),
      phaseTimeoutSeconds: positiveInt("phase-timeout-seconds", values["phase-timeout-seconds"] ?? ""),
      operatorArgs: values["operator-arg"] ?? [],
      ...(values["operator-node-options"] ? { operatorNodeOptions: values["operator-node-options"] } : {}),
      log,
    }),
  );
}
for (const n of discoveryClients) {
  discovery.push(
    await benchDiscovery({
      clients: n,
      rawCount: positiveInt("raw-count", values["raw-count"] ?? ""),
      discoveryArgs: values["discovery-arg"] ?? [],
      ...(discoveryNodeOptions !== "none" ? { nodeOptions: discoveryNodeOptions } : {}),
      log,
    }),
  );
}
process.stdout.write(
  `${table([...results.map((operator) => ({ operator })), ...discovery.map((d) => ({ discovery: d }))])}\n`,
);
if (values.out) {
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, loadavgAtEnd: loadavg() };
  writeFileSync(
    values.out,
    `${JSON.stringify({ started, countedFrom: "apiserver_request_total", machine, results, discovery }, null, 2)}\n`,
  );
  log(`results written to ${values.out}`);
}
