import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventRecorder } from "./events.ts";

let server: Server;
const seen: string[] = [];
let existing = false;
let kc: KubeConfig;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const count = req.method === "PATCH" ? (JSON.parse(body) as { count: number }).count : undefined;
      seen.push(`${req.method}${count === undefined ? "" : ` ${count}`}`);
      res.setHeader("content-type", "application/json");
      if (req.method === "POST" && existing) {
        res.statusCode = 409;
        res.end(JSON.stringify({ kind: "Status", reason: "AlreadyExists", message: "exists" }));
        return;
      }
      res.end(JSON.stringify({ kind: "Event", metadata: { name: "e" }, count: 7 }));
    });
  });
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

const pool = {
  apiVersion: "metalpool.io/v1alpha1",
  kind: "BaremetalPool",
  metadata: { name: "p", namespace: "ns", uid: "u1" },
};

describe("the event recorder", () => {
  it("folds repeats into one Event with a count, without reading first", async () => {
    seen.length = 0;
    const r = new EventRecorder(kc, "test");
    for (let i = 0; i < 3; i++) await r.record(pool, "Normal", "Claimed", "claimed Hardware a");
    expect(seen).toEqual(["POST", "PATCH 2", "PATCH 3"]);
  });

  it("after a restart, reads an Event it does not remember once and keeps counting", async () => {
    seen.length = 0;
    existing = true;
    const r = new EventRecorder(kc, "test");
    await r.record(pool, "Normal", "Claimed", "claimed Hardware b");
    await r.record(pool, "Normal", "Claimed", "claimed Hardware b");
    existing = false;
    expect(seen).toEqual(["POST", "GET", "PATCH 8", "PATCH 9"]);
  });
});
