import { getEventListeners } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient, limitRequests } from "./rest.ts";

const NAMESPACES = { group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false };
let server: Server;
let connections = 0;
let requests = 0;
let kc: KubeConfig;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests += 1;
    if (req.url?.includes("hang")) return; // never answers
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ kind: "Namespace", metadata: { name: req.url?.split("/").at(-1) } }));
  });
  server.on("connection", () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  kc = kubeconfig(port);
});

function kubeconfig(port: number): KubeConfig {
  const k = new KubeConfig();
  k.loadFromOptions({
    clusters: [{ name: "c", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return k;
}

afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
);

describe("the API client", () => {
  it("reuses connections across requests and across clients of one kubeconfig", async () => {
    connections = 0;
    const clients = [new KubeClient(kc), new KubeClient(kc), new KubeClient(kc)];
    for (let i = 0; i < 60; i++) await clients[i % 3]?.get(NAMESPACES, undefined, `ns-${i}`);
    expect(connections).toBeLessThanOrEqual(2);
  });
});

describe("the request limit of a kubeconfig", () => {
  it("holds every client of it: a burst goes, the next request waits (and ends when aborted)", async () => {
    const { port } = server.address() as AddressInfo;
    const limited = kubeconfig(port);
    const bucket = limitRequests(limited, { qps: 0.001, burst: 2 });
    requests = 0;
    const [a, b] = [new KubeClient(limited), new KubeClient(limited)];
    await a.get(NAMESPACES, undefined, "one");
    await b.get(NAMESPACES, undefined, "two");
    const ac = new AbortController();
    const third = a.withSignal(ac.signal).get(NAMESPACES, undefined, "three");
    // Another kubeconfig of the same server has no limit.
    await new KubeClient(kubeconfig(port)).get(NAMESPACES, undefined, "free");
    expect(requests).toBe(3);
    ac.abort(new Error("leadership lost"));
    await expect(third).rejects.toMatchObject({ reason: "Aborted", message: /leadership lost/ });
    expect(requests).toBe(3);
    expect(bucket.waitedSeconds).toBe(0);
  });
});

describe("one request's cancellation", () => {
  it("ends at its timeout, and at once when a signal of the client aborts", async () => {
    const client = new KubeClient(kc);
    await expect(
      client.request("GET", "/api/v1/namespaces/hang-1", undefined, { timeoutMs: 100 }),
    ).rejects.toMatchObject({ reason: "Unreachable", message: /timed out after 100 ms/ });
    const leadership = new AbortController();
    const hanging = client.withSignal(leadership.signal).get(NAMESPACES, undefined, "hang-2");
    await new Promise((r) => setTimeout(r, 50));
    leadership.abort(new Error("lost the lease"));
    await expect(hanging).rejects.toMatchObject({ reason: "Aborted", message: /lost the lease/ });
  });

  it("holds on to the client's long-lived signal only while a request is in flight", async () => {
    const leadership = new AbortController();
    const client = new KubeClient(kc).withSignal(leadership.signal);
    const hanging = client.request("GET", "/api/v1/namespaces/hang-3", undefined, { timeoutMs: 300 });
    await new Promise((r) => setTimeout(r, 50));
    expect(getEventListeners(leadership.signal, "abort")).toHaveLength(1); // held while in flight
    for (let i = 0; i < 20; i++) await client.get(NAMESPACES, undefined, `ns-${i}`);
    await expect(hanging).rejects.toMatchObject({ reason: "Unreachable" });
    expect(getEventListeners(leadership.signal, "abort")).toHaveLength(0);
  });
});
