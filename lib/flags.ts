/**
 * Command-line flags where every flag has a METALPOOL_* environment twin (--metrics-addr ↔
 * METALPOOL_METRICS_ADDR), so the same program is configured by flags locally and by env in a Pod.
 */
import { Command, Option } from "commander";

export function envName(longFlag: string): string {
  return "METALPOOL_" + longFlag.replace(/^--/, "").replace(/-/g, "_").toUpperCase();
}

/** `--name <value>` with its env twin and default, described once. */
export function flag(flags: string, description: string, defaultValue?: string | boolean): Option {
  const long = flags.split(/[ ,]+/).find((f) => f.startsWith("--"));
  if (!long) throw new Error(`flag ${flags} has no long form`);
  const option = new Option(flags, `${description}`).env(envName(long));
  if (defaultValue !== undefined) option.default(defaultValue);
  return option;
}

/** The flags both programs share. */
export function withCommonFlags(cmd: Command): Command {
  return cmd
    .addOption(
      flag(
        "--kubeconfig <path>",
        "kubeconfig file (default: in-cluster, else $KUBECONFIG, else ~/.kube/config)",
      ),
    )
    .addOption(flag("--namespace <ns...>", "namespaces to watch (default: all)"))
    .addOption(
      flag("--metrics-addr <addr:port>", "where /metrics, /healthz and /readyz are served", "0.0.0.0:8080"),
    )
    .addOption(
      flag("--log-level <level>", "log level")
        .choices(["trace", "debug", "info", "warn", "error"])
        .default("info"),
    );
}

/** Splits "host:port" (IPv6 as "[::1]:67"); a clear error on anything else. */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535)
    throw new Error(`${what}: expected ADDR:PORT such as 0.0.0.0:67, got "${value}"`);
  return { host: (match[1] ?? match[2]) as string, port };
}
