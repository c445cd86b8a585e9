/** A real Prometheus (Debian's package) scraping given targets on loopback, with a query helper. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort, waitFor } from "./ports.ts";
import { startProcess, type ManagedProcess } from "./process.ts";

export interface Prometheus {
  url: string;
  query(expr: string): Promise<{
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  }>;
  stop(): Promise<void>;
}

export async function startPrometheus(targets: string[], ruleFiles: string[] = []): Promise<Prometheus> {
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
  const proc: ManagedProcess = startProcess(
    "prometheus",
    "prometheus",
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { logFile: join(dir, "prometheus.log") },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor("prometheus ready", async () => (await fetch(`${url}/-/ready`)).status === 200, 30_000);
  const query: Prometheus["query"] = async (expr) =>
    (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as Awaited<
      ReturnType<Prometheus["query"]>
    >;
  // Targets reach the scrape loop only at the next discovery tick (up to 5 s after start): a test that
  // counts from the start waits until every target has been scraped once.
  await waitFor(
    "every target scraped",
    async () => (await query("count(up == 1)")).data.result[0]?.value[1] === String(targets.length),
    30_000,
  );
  return {
    url,
    query,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
