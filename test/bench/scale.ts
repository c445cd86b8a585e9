#!/usr/bin/env node
/**
 * Fleet scale benchmark: `npm run bench:scale -- --members 1000[,5000] [--out results.json]`.
 * For each N, on its own control plane: the API server's raw Hardware create rate (serial and at
 * concurrency 16), then the real operator program taking a pool of N operator-owned, Manual-power members
 * from 0 to N Ready, a quiet minute, and back to 0. Prints a table (metrics × N); --out writes the full
 * results as JSON. See README "Scale".
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { runScale, type RunResult } from "./scale-run.ts";

const { values } = parseArgs({
  options: {
    members: { type: "string", default: "1000" },
    hardware: { type: "string", default: "10000" },
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

const members = (values.members ?? "").split(",").map((m) => positiveInt("members", m.trim()));
const wipeMode = values["wipe-mode"];
if (wipeMode !== "None" && wipeMode !== "Metadata") throw new Error("--wipe-mode is None or Metadata");

const log = (line: string): void => void process.stderr.write(`${line}\n`);

const ROWS: [string, (r: RunResult) => string | number][] = [
  ["operator NODE_OPTIONS", (r) => r.operatorNodeOptions || "none"],
  ["raw creates/s, serial", (r) => r.raw.serialPerSecond],
  [
    "raw creates/s, concurrency 16, before / after the loop",
    (r) => `${r.raw.concurrent16PerSecond} / ${r.raw.concurrent16AfterPerSecond}`,
  ],
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

function table(results: RunResult[]): string {
  const header = ["metric", ...results.map((r) => `N=${r.members}`)];
  const rows = ROWS.map(([name, get]) => [name, ...results.map((r) => String(get(r)))]);
  const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

const results: RunResult[] = [];
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
process.stdout.write(`${table(results)}\n`);
if (values.out) {
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, loadavgAtEnd: loadavg() };
  writeFileSync(
    values.out,
    `${JSON.stringify({ started, countedFrom: "apiserver_request_total", machine, results }, null, 2)}\n`,
  );
  log(`results written to ${values.out}`);
}
