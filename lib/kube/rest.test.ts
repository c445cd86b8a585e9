import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "./rest.ts";

const NAMESPACES = { group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false };
let server: Server;
let connections = 0;
let kc: KubeConfig;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ kind: "Namespace", metadata: { name: req.url?.split("/").at(-1) } }));
  });
  server.on("connection", () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("the API client", () => {
  it("reuses connections across requests and across clients of one kubeconfig", async () => {
    connections = 0;
    const clients = [new KubeClient(kc), new KubeClient(kc), new KubeClient(kc)];
    for (let i = 0; i < 60; i++) await clients[i % 3]?.get(NAMESPACES, undefined, `ns-${i}`);
    expect(connections).toBeLessThanOrEqual(2);
  });
});
