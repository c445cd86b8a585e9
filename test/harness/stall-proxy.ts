/**
 * A TCP proxy in front of the API server that can stall: while stalled, bytes in both directions are held
 * (the sockets stay open, nothing is answered), as a congested network or a frozen API server would. TLS
 * passes through untouched, so the API server's certificate still matches the loopback address.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeConfig as KubeConfigClass } from "@kubernetes/client-node";

export class StallProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private stalled = false;
  port = 0;

  private constructor(upstreamHost: string, upstreamPort: number) {
    this.server = createServer((client) => {
      const upstream = connect(upstreamPort, upstreamHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => s.destroy());
        if (this.stalled) s.pause();
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
  }

  /** Starts a proxy to host:port on a free loopback port. */
  static async to(host: string, port: number): Promise<StallProxy> {
    const proxy = new StallProxy(host, port);
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    const address = proxy.server.address();
    proxy.port = typeof address === "object" && address ? address.port : 0;
    return proxy;
  }

  /** Starts a proxy to the kubeconfig's server; returns it and a kubeconfig that goes through it. */
  static async in(kc: KubeConfig): Promise<{ proxy: StallProxy; kc: KubeConfig }> {
    const server = new URL(kc.getCurrentCluster()?.server ?? "");
    const proxy = await StallProxy.to(server.hostname, Number(server.port));
    const proxied = new KubeConfigClass();
    proxied.loadFromString(kc.exportConfig());
    const cluster = proxied.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    proxied.clusters = proxied.clusters.map((c) =>
      c.name === cluster.name ? { ...c, server: `https://127.0.0.1:${proxy.port}` } : c,
    );
    return { proxy, kc: proxied };
  }

  /** Like a BMC that vanished: open connections are cut, and new ones are held until resume(). */
  cut(): void {
    this.stalled = true;
    for (const s of this.sockets) s.destroy();
  }

  stall(): void {
    this.stalled = true;
    for (const s of this.sockets) s.pause();
  }

  resume(): void {
    this.stalled = false;
    for (const s of this.sockets) s.resume();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
