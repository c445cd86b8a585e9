import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventRecorder } from "./events.ts";

let server: Server;
const seen: string[] = [];
/** Every Event written: what a person would see in `kubectl get events`. */
const bodies: { method: string; name: string; reason?: string; message?: string; count?: number }[] = [];
let existing = false;
let kc: KubeConfig;

function note(method: string, url: string, body: string): void {
  const count = method === "PATCH" ? (JSON.parse(body) as { count: number }).count : undefined;
  seen.push(`${method}${count === undefined ? "" : ` ${count}`}`);
  if (method !== "POST" && method !== "PATCH") return;
  const e = JSON.parse(body) as {
    metadata?: { name: string };
    reason?: string;
    message?: string;
    count?: number;
  };
  bodies.push({
    method,
    name: e.metadata?.name ?? url.split("/").at(-1) ?? "",
    ...(e.reason ? { reason: e.reason } : {}),
    message: e.message ?? "",
    count: e.count ?? 0,
  });
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      note(req.method ?? "", req.url ?? "", body);
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

describe("similar events", () => {
  it("are written alone up to the allowance, then combined into one Event whose count grows", async () => {
    bodies.length = 0;
    const r = new EventRecorder(kc, "test", { flushMs: 60_000 });
    for (let i = 0; i < 25; i++) await r.record(pool, "Normal", "Claimed", `claimed Hardware s${i}`);
    expect(bodies.map((b) => b.message)).toEqual(
      Array.from({ length: 10 }, (_, i) => `claimed Hardware s${i}`),
    );
    await r.flush();
    expect(bodies.slice(10)).toEqual([
      {
        method: "POST",
        name: expect.stringMatching(/^p\./) as string,
        reason: "Claimed",
        message: "(combined from similar events): claimed Hardware s24",
        count: 15,
      },
    ]);
    for (let i = 25; i < 30; i++) await r.record(pool, "Normal", "Claimed", `claimed Hardware s${i}`);
    await r.flush();
    expect(bodies.slice(11)).toEqual([
      {
        method: "PATCH",
        name: bodies[10]?.name,
        message: "(combined from similar events): claimed Hardware s29",
        count: 20,
      },
    ]);
    await r.flush(); // nothing waits: nothing is written
    expect(bodies).toHaveLength(12);
  });

  it("count per object, type and reason, and start afresh after the window", async () => {
    bodies.length = 0;
    let now = 0;
    const r = new EventRecorder(kc, "test", { aggregateAfter: 2, aggregateWindowMs: 1000, now: () => now });
    const other = { ...pool, metadata: { ...pool.metadata, name: "q", uid: "u2" } };
    for (const i of [1, 2, 3]) {
      await r.record(pool, "Normal", "Released", `released ${i}`);
      await r.record(pool, "Warning", "Released", `released ${i}`);
      await r.record(other, "Normal", "Released", `released ${i}`);
    }
    expect(bodies).toHaveLength(6); // two of each of the three kinds; the third of each waits
    now = 1001;
    await r.record(pool, "Normal", "Released", "released 4");
    expect(bodies.at(-1)?.message).toBe("released 4");
    await r.flush();
    expect(bodies.slice(7).map((b) => [b.message, b.count])).toEqual([
      ["(combined from similar events): released 3", 1],
      ["(combined from similar events): released 3", 1],
      ["(combined from similar events): released 3", 1],
    ]);
  });

  it("identical repeats still fold into their own Event, whatever the allowance", async () => {
    seen.length = 0;
    const r = new EventRecorder(kc, "test", { aggregateAfter: 1 });
    for (let i = 0; i < 3; i++) await r.record(pool, "Warning", "PowerOffFailed", "BMC unreachable");
    expect(seen).toEqual(["POST", "PATCH 2", "PATCH 3"]);
  });
});
