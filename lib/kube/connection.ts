/**
 * What every request to a kubeconfig's API server needs: one keep-alive connection pool, and the current
 * credentials as headers.
 *
 * metalpool's own kubeconfig (kubeconfig.ts) gives its TLS identity once and its credentials on demand (a
 * token file or an exec plugin is asked again only when due), so one undici Agent serves every request.
 *
 * A client-node KubeConfig (the tests build those) is served through client-node, loaded only then: its
 * RequestContext builds a new undici Agent for each request, so the first one is kept and shared, and the
 * credentials are asked for at most once a second (each time client-node also builds that Agent and may
 * read certificate files). A rotated token is in use within the second.
 */
import { Agent, type Dispatcher } from "undici";
import { ClusterConfig, type KubeConfig } from "./kubeconfig.ts";

export const CREDENTIALS_TTL_MS = 1000;

interface Connection {
  dispatcher: Dispatcher | undefined;
  headers: Record<string, string> | undefined;
  at: number;
  refreshing: Promise<void> | undefined;
}

const connections = new WeakMap<KubeConfig, Map<string, Connection>>();

/** One Agent per TLS identity: an exec plugin that hands out a new client certificate gets a new pool. */
const agents = new WeakMap<ClusterConfig, Map<string, Agent>>();

function agentFor(kc: ClusterConfig, clientCertificate: { cert: string; key: string } | undefined): Agent {
  let byIdentity = agents.get(kc);
  if (!byIdentity) {
    byIdentity = new Map();
    agents.set(kc, byIdentity);
  }
  const identity = clientCertificate?.cert ?? "";
  let agent = byIdentity.get(identity);
  if (!agent) {
    for (const old of byIdentity.values()) void old.close();
    byIdentity.clear();
    agent = new Agent({ connect: { ...kc.tls, ...clientCertificate }, keepAliveTimeout: 30_000 });
    byIdentity.set(identity, agent);
  }
  return agent;
}

export async function connectionFor(
  kc: KubeConfig,
  server: string,
  now: () => number = () => performance.now(),
): Promise<{ headers: Record<string, string>; dispatcher: Dispatcher | undefined }> {
  if (kc instanceof ClusterConfig) {
    const credentials = await kc.credentials();
    return { headers: credentials.headers, dispatcher: agentFor(kc, credentials.clientCertificate) };
  }
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
      const { HttpMethod, RequestContext } = await import("@kubernetes/client-node");
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
