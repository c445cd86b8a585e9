/**
 * A real Prometheus scraping given targets, with query helpers. The pinned version (hack/versions.env),
 * built from its Go module by hack/build-prometheus.sh: METALPOOL_PROMETHEUS names the directory holding
 * `prometheus` and `promtool` (hack/test.sh exports it); unset, the script is run (it builds once, then
 * answers from its cache).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { REPO_DIR } from "./control-plane.ts";
import { freePort, waitFor } from "./ports.ts";
import { startProcess, type ManagedProcess } from "./process.ts";

/** The directory holding the pinned `prometheus` and `promtool`. */
export function prometheusDir(): string {
  const dir =
    process.env.METALPOOL_PROMETHEUS ||
    execFileSync("bash", [join(REPO_DIR, "hack/build-prometheus.sh")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim();
  if (!existsSync(join(dir, "prometheus")) || !existsSync(join(dir, "promtool")))
    throw new Error(
      `no prometheus and promtool in ${dir} (METALPOOL_PROMETHEUS, from hack/build-prometheus.sh)`,
    );
  return dir;
}

/** Runs the pinned promtool; its output (stdout), or an error holding stdout and stderr. */
export function promtool(...args: string[]): string {
  return execFileSync(join(prometheusDir(), "promtool"), args, { encoding: "utf8" });
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
export interface Series {
  metric: Record<string, string>;
  values: [number, string][];
}
export interface Answer<T> {
  status: string;
  error?: string;
  /** Absent when the query failed. */
  data?: { resultType: string; result: T[] };
}

export interface Prometheus {
  url: string;
  /** An instant query, now or at `time` (Unix seconds). */
  query(expr: string, time?: number): Promise<Answer<Sample>>;
  /** A range query from `start` to `end` (Unix seconds), one point every `step` seconds. */
  queryRange(expr: string, start: number, end: number, step: number): Promise<Answer<Series>>;
  /** Resolves once every target has been scraped at or after `time` (Unix seconds). */
  scrapedSince(time: number): Promise<void>;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

export async function startPrometheus(targets: string[], ruleFiles: string[] = []): Promise<Prometheus> {
  const binary = join(prometheusDir(), "prometheus");
  const dir = mkdtempSync(join(tmpdir(), "metalpool-prom-"));
  const port = await freePort();
  writeFileSync(
    join(dir, "prometheus.yml"),
    stringify({
      global: { scrape_interval: "1s", evaluation_interval: "1s" },
      rule_files: ruleFiles,
      scrape_configs: [{ job_name: "metalpool", static_configs: [{ targets }] }],
    }),
  );
  const logFile = join(dir, "prometheus.log");
  const proc: ManagedProcess = startProcess(
    "prometheus",
    binary,
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { logFile },
  );
  const url = `http://127.0.0.1:${port}`;
  const logTail = (lines = 40): string =>
    existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-lines).join("\n") : "";
  const stop = async (): Promise<void> => {
    await proc.stop();
    if (!process.env.METALPOOL_KEEP_TEST_LOGS) rmSync(dir, { recursive: true, force: true });
  };
  const api = async <T>(path: string, params: Record<string, string>): Promise<Answer<T>> =>
    (await (
      await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params).toString()}`)
    ).json()) as Answer<T>;
  const query: Prometheus["query"] = (expr, time) =>
    api<Sample>("query", { query: expr, ...(time === undefined ? {} : { time: String(time) }) });
  const queryRange: Prometheus["queryRange"] = (expr, start, end, step) =>
    api<Series>("query_range", { query: expr, start: String(start), end: String(end), step: String(step) });
  try {
    await waitFor(
      "prometheus ready",
      async () => {
        if (proc.exited()) throw new Error(`prometheus exited:\n${logTail()}`);
        return (await fetch(`${url}/-/ready`)).status === 200;
      },
      30_000,
    );
    // Targets reach the scrape loop only at the next discovery tick (up to 5 s after start): a test that
    // counts from the start waits until every target has been scraped once.
    await waitFor(
      "every target scraped",
      async () => (await query("count(up == 1)")).data?.result[0]?.value[1] === String(targets.length),
      30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    query,
    queryRange,
    // A scrape that failed (its 1 s timeout on a loaded machine) also stamps `up`, with 0 and no samples:
    // only a successful scrape of every target since `time` means the targets' latest values are stored.
    scrapedSince: (time) =>
      waitFor(
        `every target scraped successfully since ${time}`,
        async () =>
          (await query(`count(timestamp(up == 1) >= ${time})`)).data?.result[0]?.value[1] ===
          String(targets.length),
        60_000,
      ),
    logTail,
    stop,
  };
}
