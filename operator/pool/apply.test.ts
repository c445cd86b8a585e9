/** Applying a pass's actions without a cluster: what reaches the API server, and how often. */
import { describe, expect, it } from "vitest";
import { baremetalPoolSpecSchema, poolRef } from "../../lib/api/baremetalpool.ts";
import { LABEL } from "../../lib/api/labels.ts";
import type { Hardware } from "../../lib/api/tinkerbell.ts";
import { KubeApiError, type KubeClient, type KubeObject, type ResourceType } from "../../lib/kube/rest.ts";
import { createLogger } from "../../lib/log.ts";
import { apply, type ApplyContext } from "./apply.ts";
import type { ReconcilerDeps } from "./deps.ts";
import type { Action, MemberView, PoolObject } from "./types.ts";

const spec = baremetalPoolSpecSchema.parse({
  replicas: 5,
  template: { osImageURL: "http://images.test/ubuntu.raw.gz", kubeletVersion: "1.33.4" },
  provisioning: { workflowOwner: "Operator", power: "Manual", attemptTimeout: "10m", maxAttempts: 3 },
});
const pool = {
  apiVersion: "metalpool.io/v1alpha1",
  kind: "BaremetalPool",
  metadata: { name: "p", namespace: "ns", uid: "pool-1", generation: 1 },
  spec,
} as PoolObject;

const server = (name: string): Hardware => ({
  metadata: { name, namespace: "ns", resourceVersion: "1", labels: { [LABEL.poolUID]: "pool-1" } },
  spec: {
    disks: [{ device: "/dev/sda" }],
    interfaces: [{ dhcp: { mac: "52:54:00:00:00:01", ip: { address: "10.0.0.2", netmask: "255.0.0.0" } } }],
  },
});

/** An API server that answers each request on a later turn, so members' requests overlap as they would. */
function fakeApi(servers: Hardware[]) {
  const created = new Map<string, KubeObject>();
  const requests: string[] = [];
  const later = (): Promise<void> => new Promise((r) => setImmediate(r));
  const client = {
    create: async (type: ResourceType, obj: KubeObject) => {
      requests.push(`POST ${type.kind} ${obj.metadata.name}`);
      await later();
      const k = `${type.kind}/${obj.metadata.name}`;
      if (created.has(k)) throw new KubeApiError(409, "AlreadyExists", `${k} exists`);
      created.set(k, { ...obj, metadata: { ...obj.metadata, uid: k, resourceVersion: "1" } });
      return created.get(k);
    },
    get: async (type: ResourceType, _ns: string, name: string) => {
      requests.push(`GET ${type.kind} ${name}`);
      await later();
      return type.kind === "Hardware"
        ? structuredClone(servers.find((s) => s.metadata.name === name))
        : created.get(`${type.kind}/${name}`);
    },
  } as unknown as KubeClient;
  return { client, requests };
}

function context(client: KubeClient, templates: Map<string, string>): ApplyContext {
  const cache = { upsertLocal: () => undefined };
  const d = {
    client,
    hardware: cache,
    workflows: cache,
    event: () => undefined,
    now: () => new Date("2026-01-01T00:00:00Z"),
    log: createLogger("test", "error"),
    retryBackoffMs: 1000,
  } as unknown as ReconcilerDeps;
  return {
    d,
    pool,
    ref: poolRef(pool),
    spec,
    target: { client, namespace: "ns" },
    templates,
    passTemplates: new Map(),
  };
}

const member = (hw: Hardware): MemberView => ({
  hw,
  md: undefined,
  machines: 0,
  workflows: [],
  wipe: undefined,
  attempt: 0,
  releasing: false,
  phase: "Claimed",
});

describe("applying a pass", () => {
  it("writes the pool's Template once however many members start at once, and not again next pass", async () => {
    const servers = ["s1", "s2", "s3", "s4", "s5"].map(server);
    const api = fakeApi(servers);
    const templates = new Map<string, string>();
    const starts: Action[] = servers.map((hw) => ({ kind: "startWorkflow", member: member(hw), attempt: 1 }));
    const first = await apply(context(api.client, templates), starts);
    expect(first.errors).toEqual(new Map());
    const posts = (kind: string): number => api.requests.filter((r) => r.startsWith(`POST ${kind} `)).length;
    expect(posts("Template")).toBe(1);
    expect(posts("Workflow")).toBe(5);
    api.requests.length = 0;
    const retries: Action[] = servers.map((hw) => ({
      kind: "startWorkflow",
      member: member(hw),
      attempt: 2,
    }));
    await apply(context(api.client, templates), retries);
    expect(posts("Template")).toBe(0);
    expect(posts("Workflow")).toBe(5);
  });
});
