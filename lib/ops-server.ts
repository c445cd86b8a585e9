/**
 * The operational HTTP endpoint both programs serve: /metrics (Prometheus text format from a prom-client
 * registry), /healthz (the process loop is alive) and /readyz (caches synced, and for the operator the
 * lease question settled). Anything else is 404.
 */
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import { parseHostPort } from "./flags.ts";

export interface OpsServerOptions {
  listen: string;
  registry: Registry;
  /** Returns null when ready, else why not (served with 503). */
  readiness: () => string | null;
}

export async function startOpsServer(
  opts: OpsServerOptions,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const { host, port } = parseHostPort(opts.listen, "--metrics-addr");
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": opts.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    } else if (path === "/readyz") {
      const why = opts.readiness();
      res.writeHead(why ? 503 : 200, { "content-type": "text/plain" }).end(why ?? "ok");
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = address && typeof address === "object" ? address.port : port;
  return {
    server,
    port: bound,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
