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

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

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
