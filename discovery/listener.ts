/**
 * The UDP socket: bound with address reuse so it receives the same broadcasts as the DHCP server beside
 * it (smee binds 0.0.0.0:67 with SO_REUSEADDR too), and never used to send. Packets wait in a bounded
 * queue (a flood costs memory for at most `maxQueued` packets, then drops) and up to `maxInFlight` are
 * handled at once, so one slow API create does not hold up the next client. The kernel's receive buffer is
 * asked for `recvBufferBytes` (Linux caps it at net.core.rmem_max; the size granted is reported) so a
 * burst of broadcasts is not lost before it reaches the queue.
 */
import { createSocket, type Socket } from "node:dgram";
import { parseHostPort } from "../lib/flags.ts";

export interface Listener {
  port: number;
  /** The receive buffer the kernel granted (it may cap what was asked for). */
  recvBufferBytes: number;
  close(): Promise<void>;
}

export async function listen(
  address: string,
  onPacket: (bytes: Uint8Array, from: string, receivedAt: number) => Promise<unknown>,
  opts: {
    maxQueued?: number;
    maxInFlight?: number;
    recvBufferBytes?: number;
    onDrop?: () => void;
    onError?: (err: unknown) => void;
  } = {},
): Promise<Listener> {
  const { host, port } = parseHostPort(address, "--listen");
  const socket: Socket = createSocket({
    type: "udp4",
    reuseAddr: true,
    recvBufferSize: opts.recvBufferBytes ?? 4 * 1024 * 1024,
  });
  const queue: [Uint8Array, string, number][] = [];
  const maxQueued = opts.maxQueued ?? 1024;
  const maxInFlight = opts.maxInFlight ?? 16;
  let inFlight = 0;
  const next = (): void => {
    while (inFlight < maxInFlight && queue.length) {
      const [bytes, from, receivedAt] = queue.shift() as [Uint8Array, string, number];
      inFlight += 1;
      onPacket(bytes, from, receivedAt)
        .catch((err: unknown) => opts.onError?.(err))
        .finally(() => {
          inFlight -= 1;
          next();
        });
    }
  };
  socket.on("message", (msg, rinfo) => {
    if (queue.length >= maxQueued) return opts.onDrop?.();
    // The UDP source as the kernel saw it: admission checks relayed requests against it.
    queue.push([msg, `${rinfo.address}:${rinfo.port}`, performance.now()]);
    next();
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
    recvBufferBytes: socket.getRecvBufferSize(),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
