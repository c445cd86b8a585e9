/**
 * The UDP socket: bound with address reuse so it receives the same broadcasts as the DHCP server beside
 * it (smee binds 0.0.0.0:67 with SO_REUSEADDR too), and never used to send. Packets are handled one at a
 * time through a bounded queue, so a flood costs memory for at most `maxQueued` packets, then drops.
 */
import { createSocket, type Socket } from "node:dgram";
import { parseHostPort } from "../lib/flags.ts";

export interface Listener {
  port: number;
  close(): Promise<void>;
}

export async function listen(
  address: string,
  onPacket: (bytes: Uint8Array, from: string) => Promise<unknown>,
  opts: { maxQueued?: number; onDrop?: () => void; onError?: (err: unknown) => void } = {},
): Promise<Listener> {
  const { host, port } = parseHostPort(address, "--listen");
  const socket: Socket = createSocket({ type: "udp4", reuseAddr: true });
  const queue: [Uint8Array, string][] = [];
  const maxQueued = opts.maxQueued ?? 1024;
  let draining = false;
  const drain = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    while (queue.length) {
      const [bytes, from] = queue.shift() as [Uint8Array, string];
      try {
        await onPacket(bytes, from);
      } catch (err) {
        opts.onError?.(err);
      }
    }
    draining = false;
  };
  socket.on("message", (msg, rinfo) => {
    if (queue.length >= maxQueued) return opts.onDrop?.();
    // The UDP source as the kernel saw it: admission checks relayed requests against it.
    queue.push([msg, `${rinfo.address}:${rinfo.port}`]);
    void drain();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ port, address: host, exclusive: false }, () => {
      socket.off("error", reject);
      socket.on("error", (err) => opts.onError?.(err));
      resolve();
    });
  });
  return {
    port: socket.address().port,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
