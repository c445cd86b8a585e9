/**
 * The client side of discovery's integration tests: PXE requests as real firmware builds them, sent as UDP
 * datagrams from a chosen loopback address (all of 127.0.0.0/8 is local on Linux, so a test can be a relay
 * at 127.0.0.2 and an impostor at 127.0.0.1), and discovery's metrics read back.
 */
import { createSocket } from "node:dgram";

export { pxeDiscover } from "../fixtures/dhcp.ts";

/** Sends datagrams to discovery on 127.0.0.1:port from `from` (a loopback address; default 127.0.0.1). */
export async function send(port: number, datagrams: Uint8Array[], from = "127.0.0.1"): Promise<void> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ address: from, port: 0 }, () => resolve());
  });
  for (const d of datagrams)
    await new Promise<void>((resolve, reject) =>
      socket.send(d, port, "127.0.0.1", (err) => (err ? reject(err) : resolve())),
    );
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}

/** One sample from discovery's /metrics, e.g. `metalpool_discovery_rejections_total{reason="duplicate"}`; 0 if absent. */
export async function metric(metricsUrl: string, sample: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(sample + " ") || l.startsWith(sample + "{"));
  return line ? Number(line.split(" ").at(-1)) : 0;
}
