/**
 * A private provisioning network for PXE tests: a network namespace with a bridge (10.213.0.1/24) for the
 * VMs' tap devices, joined to the root namespace by a veth pair (10.214.0.1 ↔ 10.214.0.2), over which a
 * TCP relay lets programs inside reach the test API server on the root namespace's loopback.
 * Traffic stays on addresses this test made; `destroy` removes the namespace and everything in it.
 *
 * With `routed`, the namespace forwards between the bridge and the veth and the root namespace routes the
 * bridge's subnet over the veth: VMs on the bridge then reach servers the test runs on hostAddress, and
 * the test reaches programs listening on the bridge address (the route goes with the veth).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createConnection, createServer, type Server } from "node:net";

export interface TestNetwork {
  name: string;
  bridgeAddress: string;
  /** Root-side address of the veth pair; relays listen here. */
  hostAddress: string;
  /** Namespace-side address of the veth pair, where programs inside can be reached. */
  nsAddress: string;
  addTap(): string;
  /** Relays TCP from hostAddress:<port> to target (host:port); returns the port. */
  relay(target: { host: string; port: number }): Promise<number>;
  destroy(): Promise<void>;
}

const run = (...args: string[]): string =>
  execFileSync(args[0] as string, args.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

export function createTestNetwork(opts: { routed?: boolean } = {}): TestNetwork {
  const id = randomBytes(3).toString("hex");
  const name = `mp-${id}`;
  const vethHost = `mpv${id}h`;
  const vethNs = `mpv${id}n`;
  const inNs = (...args: string[]): string => run("ip", "netns", "exec", name, ...args);
  const relays: Server[] = [];
  let taps = 0;
  run("ip", "netns", "add", name);
  try {
    inNs("ip", "link", "set", "lo", "up");
    inNs("ip", "link", "add", "br0", "type", "bridge");
    inNs("ip", "addr", "add", "10.213.0.1/24", "dev", "br0");
    inNs("ip", "link", "set", "br0", "up");
    run("ip", "link", "add", vethHost, "type", "veth", "peer", "name", vethNs);
    run("ip", "link", "set", vethNs, "netns", name);
    run("ip", "addr", "add", "10.214.0.1/30", "dev", vethHost);
    run("ip", "link", "set", vethHost, "up");
    inNs("ip", "addr", "add", "10.214.0.2/30", "dev", vethNs);
    inNs("ip", "link", "set", vethNs, "up");
    if (opts.routed) {
      inNs("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
      run("ip", "route", "add", "10.213.0.0/24", "via", "10.214.0.2", "dev", vethHost);
    }
  } catch (err) {
    run("ip", "netns", "del", name);
    throw err;
  }
  return {
    name,
    bridgeAddress: "10.213.0.1",
    hostAddress: "10.214.0.1",
    nsAddress: "10.214.0.2",
    addTap(): string {
      const tap = `tap${taps++}`;
      inNs("ip", "tuntap", "add", tap, "mode", "tap");
      inNs("ip", "link", "set", tap, "master", "br0");
      inNs("ip", "link", "set", tap, "up");
      return tap;
    },
    async relay(target): Promise<number> {
      const server = createServer((inbound) => {
        const outbound = createConnection(target);
        inbound.pipe(outbound).pipe(inbound);
        inbound.on("error", () => outbound.destroy());
        outbound.on("error", () => inbound.destroy());
      });
      relays.push(server);
      await new Promise<void>((resolve) => server.listen(0, "10.214.0.1", resolve));
      const address = server.address();
      return address && typeof address === "object" ? address.port : 0;
    },
    async destroy(): Promise<void> {
      for (const server of relays) await new Promise<void>((resolve) => server.close(() => resolve()));
      try {
        run("ip", "link", "del", vethHost);
      } catch {
        // gone with the namespace already
      }
      run("ip", "netns", "del", name);
    },
  };
}
