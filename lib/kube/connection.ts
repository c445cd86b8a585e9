/**
 * What every request to a kubeconfig's API server needs: one keep-alive connection pool, and the current
 * credentials as headers.
 *
 * client-node's RequestContext builds a new undici Agent (TLS options from the kubeconfig) for each request,
 * which opens a new connection every time: hundreds of sockets under load and most of the operator's memory.
 * So the first Agent is kept and shared by every client of the kubeconfig; it carries only the TLS identity,
 * which is fixed per kubeconfig.
 *
 * Credentials can rotate (token files, exec plugins), so they are asked for again, but at most once a second:
 * each time client-node also builds that Agent and may read certificate files, which at hundreds of requests
 * a second was a large share of the client's CPU and garbage. A rotated token is in use within the second.
 */
import { HttpMethod, RequestContext, type KubeConfig } from "@kubernetes/client-node";
import type { Dispatcher } from "undici";

export const CREDENTIALS_TTL_MS = 1000;

interface Connection {
  dispatcher: Dispatcher | undefined;
  headers: Record<string, string> | undefined;
  at: number;
  refreshing: Promise<void> | undefined;
}

const connections = new WeakMap<KubeConfig, Map<string, Connection>>();

export async function connectionFor(
  kc: KubeConfig,
  server: string,
  now: () => number = () => performance.now(),
): Promise<{ headers: Record<string, string>; dispatcher: Dispatcher | undefined }> {
  let byServer = connections.get(kc);
  if (!byServer) {
    byServer = new Map();
    connections.set(kc, byServer);
  }
  let c = byServer.get(server);
  if (!c) {
    c = { dispatcher: undefined, headers: undefined, at: 0, refreshing: undefined };
    byServer.set(server, c);
  }
  const conn = c;
  if (!conn.headers || now() - conn.at > CREDENTIALS_TTL_MS) {
    // One refresh at a time; requests arriving meanwhile wait for it.
    conn.refreshing ??= (async () => {
      const ctx = new RequestContext(server, HttpMethod.GET);
      await kc.applySecurityAuthentication(ctx);
      conn.headers = { ...ctx.getHeaders() };
      conn.dispatcher ??= ctx.getDispatcher();
      conn.at = now();
    })().finally(() => {
      conn.refreshing = undefined;
    });
    await conn.refreshing;
  }
  return { headers: conn.headers as Record<string, string>, dispatcher: conn.dispatcher };
}
