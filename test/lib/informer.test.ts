/** The informer against the real API server: cache contents, events, resync, local upserts. */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { HARDWARE, type Hardware } from "../../lib/api/tinkerbell.ts";
import { Informer, backoffMs } from "../../lib/kube/informer.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { createNamespace, testKubeConfig } from "../harness/kube.ts";
import { waitFor } from "../harness/ports.ts";
import { hardware } from "../operator/fixtures.ts";

const kc = testKubeConfig();
const client = new KubeClient(kc);
const informers: Informer<Hardware>[] = [];
afterEach(() => informers.splice(0).forEach((i) => i.stop()));

describe("the informer", () => {
  it("lists existing objects before start resolves, then follows adds, updates and deletes", async () => {
    const ns = await createNamespace(kc.makeApiClient(CoreV1Api), "inf");
    await client.create(HARDWARE, hardware(ns, "before"));
    const events: string[] = [];
    const inf = new Informer<Hardware>(kc, HARDWARE, { namespace: ns });
    informers.push(inf);
    inf.on("add", (o) => events.push(`add ${o.metadata.name}`));
    inf.on("update", (o) => events.push(`update ${o.metadata.name}`));
    inf.on("delete", (o) => events.push(`delete ${o.metadata.name}`));
    await inf.start();
    expect(inf.hasSynced()).toBe(true);
    expect(inf.list().map((h) => h.metadata.name)).toEqual(["before"]);
    expect(inf.get(ns, "before")?.kind).toBe("Hardware");
    await client.create(HARDWARE, hardware(ns, "after"));
    await client.patch(HARDWARE, ns, "before", { metadata: { labels: { x: "y" } } }, "merge");
    await client.delete(HARDWARE, ns, "after");
    await waitFor("all events", () => Promise.resolve(events.length >= 4), 10_000);
    expect(events).toEqual(["add before", "add after", "update before", "delete after"]);
    expect(inf.get(ns, "before")?.metadata.labels).toEqual({ x: "y" });
    expect(inf.get(ns, "after")).toBeUndefined();
  });

  it("re-delivers every cached object on resync, and keeps the newer of a local write and the cache", async () => {
    const ns = await createNamespace(kc.makeApiClient(CoreV1Api), "resync");
    const created = await client.create(HARDWARE, hardware(ns, "one"));
    const inf = new Informer<Hardware>(kc, HARDWARE, { namespace: ns, resyncMs: 200 });
    informers.push(inf);
    let resyncs = 0;
    inf.on("update", (o, old) => {
      if (o === old) resyncs += 1;
    });
    await inf.start();
    await waitFor("two resyncs", () => Promise.resolve(resyncs >= 2), 10_000);
    const newer = await client.patch<Hardware>(
      HARDWARE,
      ns,
      "one",
      { metadata: { labels: { v: "2" } } },
      "merge",
    );
    inf.upsertLocal(newer);
    expect(inf.get(ns, "one")?.metadata.labels).toEqual({ v: "2" });
    inf.upsertLocal(created); // older: ignored
    expect(inf.get(ns, "one")?.metadata.labels).toEqual({ v: "2" });
  });

  it("never brings back a deleted object from a local write that returns after the delete event", async () => {
    const ns = await createNamespace(kc.makeApiClient(CoreV1Api), "tomb");
    const inf = new Informer<Hardware>(kc, HARDWARE, { namespace: ns });
    informers.push(inf);
    await inf.start();
    const written = await client.create(HARDWARE, hardware(ns, "gone"));
    await waitFor("added", () => Promise.resolve(inf.get(ns, "gone") !== undefined), 10_000);
    await client.delete(HARDWARE, ns, "gone");
    await waitFor("deleted", () => Promise.resolve(inf.get(ns, "gone") === undefined), 10_000);
    inf.upsertLocal(written); // the response of a write made before the delete, handled late
    expect(inf.get(ns, "gone")).toBeUndefined();
    // A new object of the same name is newer than the deletion and is kept.
    const again = await client.create(HARDWARE, hardware(ns, "gone"));
    inf.upsertLocal(again);
    expect(inf.get(ns, "gone")?.metadata.uid).toBe(again.metadata.uid);
  });

  it("caches objects without managedFields, from the list, the watch and local writes alike", async () => {
    const ns = await createNamespace(kc.makeApiClient(CoreV1Api), "mf");
    const listed = await client.create(HARDWARE, hardware(ns, "listed"));
    expect(listed.metadata.managedFields?.length).toBeGreaterThan(0); // the server keeps them
    const inf = new Informer<Hardware>(kc, HARDWARE, { namespace: ns });
    informers.push(inf);
    await inf.start();
    const watched = await client.create(HARDWARE, hardware(ns, "watched"));
    await waitFor("watched", () => Promise.resolve(inf.get(ns, "watched") !== undefined), 10_000);
    const written = await client.patch<Hardware>(
      HARDWARE,
      ns,
      "listed",
      { metadata: { labels: { v: "2" } } },
      "merge",
    );
    inf.upsertLocal(written);
    expect(written.metadata.managedFields?.length).toBeGreaterThan(0); // the writer's copy is untouched
    for (const name of ["listed", "watched"]) {
      expect(inf.get(ns, name)?.metadata.uid).toBeDefined();
      expect(inf.get(ns, name)?.metadata.managedFields).toBeUndefined();
    }
    expect(inf.get(ns, "listed")?.metadata.labels).toEqual({ v: "2" });
    // An update sent from a cached copy leaves the server's managedFields in place.
    const fromCache = structuredClone(inf.get(ns, "watched") as Hardware);
    fromCache.metadata.labels = { from: "cache" };
    const updated = await client.update(HARDWARE, fromCache);
    expect(updated.metadata.managedFields?.length).toBeGreaterThanOrEqual(
      watched.metadata.managedFields?.length ?? 1,
    );
  });

  it("keeps what its transform returns, from the list, the watch and local writes alike", async () => {
    const ns = await createNamespace(kc.makeApiClient(CoreV1Api), "tf");
    await client.create(HARDWARE, hardware(ns, "listed"));
    const seen: Hardware[] = [];
    const inf = new Informer<Hardware>(kc, HARDWARE, {
      namespace: ns,
      transform: (h) => ({ ...h, spec: { interfaces: h.spec.interfaces?.slice(0, 1) } }),
    });
    informers.push(inf);
    inf.on("add", (h) => seen.push(h)).on("update", (h) => seen.push(h));
    await inf.start();
    await client.create(HARDWARE, hardware(ns, "watched"));
    await waitFor("watched", () => Promise.resolve(inf.get(ns, "watched") !== undefined), 10_000);
    const written = await client.patch<Hardware>(
      HARDWARE,
      ns,
      "listed",
      { metadata: { labels: { v: "2" } } },
      "merge",
    );
    inf.upsertLocal(written);
    expect(written.spec.disks).toBeDefined(); // the writer's copy is untouched
    for (const name of ["listed", "watched"]) {
      const cached = inf.get(ns, name);
      expect(Object.keys(cached?.spec ?? {})).toEqual(["interfaces"]);
      expect(cached?.metadata.managedFields).toBeUndefined();
      expect(cached?.kind).toBe("Hardware");
    }
    expect(inf.get(ns, "listed")?.metadata.labels).toEqual({ v: "2" });
    expect(seen.map((h) => Object.keys(h.spec))).toEqual(seen.map(() => ["interfaces"]));
  });

  it("backs off 1 s, 2 s, 4 s … up to 30 s between failed attempts", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(backoffMs)).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it("keeps retrying the initial list until the API answers (here: a forbidden token), and stops cleanly", async () => {
    const cluster = kc.getCurrentCluster();
    const bad = new (await import("@kubernetes/client-node")).KubeConfig();
    bad.loadFromOptions({
      clusters: [{ name: "c", server: cluster?.server ?? "", skipTLSVerify: true }],
      users: [{ name: "nobody", token: "not-a-token" }],
      contexts: [{ name: "c", cluster: "c", user: "nobody" }],
      currentContext: "c",
    });
    const errors: string[] = [];
    const sleeps: number[] = [];
    const inf = new Informer<Hardware>(bad, HARDWARE, {
      onError: (err) => errors.push(err instanceof Error ? err.message : String(err)),
      sleep: (ms) => {
        sleeps.push(ms);
        if (sleeps.length >= 3) inf.stop();
        return Promise.resolve();
      },
    });
    await inf.start();
    expect(inf.hasSynced()).toBe(false);
    expect(sleeps).toEqual([1000, 2000, 4000]);
    expect(errors[0]).toMatch(/401/);
  });
});
