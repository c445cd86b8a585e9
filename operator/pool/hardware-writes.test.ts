import { describe, expect, it } from "vitest";
import { ANNOTATION, LABEL } from "../../lib/api/labels.ts";
import type { Hardware } from "../../lib/api/tinkerbell.ts";
import { KubeApiError, type KubeClient } from "../../lib/kube/rest.ts";
import { NotClaimedError, NotReleasingError, markReleasing, quarantine, release } from "./hardware-writes.ts";

const pool = { namespace: "ns", name: "p", uid: "pool-1" };

function hw(rv: number, opts: { claimed?: boolean; releasing?: boolean } = {}): Hardware {
  return {
    metadata: {
      name: "s1",
      namespace: "ns",
      resourceVersion: String(rv),
      labels: opts.claimed === false ? {} : { [LABEL.poolUID]: pool.uid, [LABEL.pool]: pool.name },
      annotations: opts.releasing ? { [ANNOTATION.releasing]: "2025-01-01T00:00:00Z" } : {},
    },
    spec: { interfaces: [{ netboot: { allowPXE: true, allowWorkflow: true } }] },
  };
}

/** An API server holding one Hardware: GET returns it, PUT succeeds only on its resourceVersion. */
function server(stored: Hardware) {
  let current = structuredClone(stored);
  const calls: string[] = [];
  const client = {
    get: () => {
      calls.push("GET");
      return Promise.resolve(structuredClone(current));
    },
    update: (_type: unknown, obj: Hardware) => {
      calls.push(`PUT@${obj.metadata.resourceVersion}`);
      if (obj.metadata.resourceVersion !== current.metadata.resourceVersion)
        return Promise.reject(new KubeApiError(409, "Conflict", "the object has been modified"));
      current = structuredClone(obj);
      current.metadata.resourceVersion = String(Number(obj.metadata.resourceVersion) + 1);
      return Promise.resolve(structuredClone(current));
    },
  } as unknown as KubeClient;
  return { client, calls, current: () => current };
}

const NOW = new Date("2025-06-01T00:00:00Z");

describe("writes to a claimed Hardware", () => {
  it("write over the pass's copy without a read when it is current", async () => {
    const api = server(hw(5));
    const marked = await markReleasing(api.client, hw(5), pool, NOW);
    expect(api.calls).toEqual(["PUT@5"]);
    expect(marked.metadata.annotations?.[ANNOTATION.releasing]).toBe(NOW.toISOString());
  });

  it("re-read and retry when the pass's copy is stale (the guard refuses it)", async () => {
    const api = server(hw(9));
    await markReleasing(api.client, hw(5), pool, NOW);
    expect(api.calls).toEqual(["PUT@5", "GET", "PUT@9"]);
    expect(api.current().metadata.annotations?.[ANNOTATION.releasing]).toBe(NOW.toISOString());
  });

  it("judge a failed precondition of a stale copy again on a fresh read", async () => {
    // The pass saw the server before its release mark landed; the API server has the mark.
    const api = server(hw(7, { releasing: true }));
    const released = await release(api.client, hw(6), pool);
    expect(api.calls).toEqual(["GET", "PUT@7"]);
    expect(released.metadata.labels?.[LABEL.poolUID]).toBeUndefined();
  });

  it("refuse when the fresh read shows the claim gone or the mark missing, changing nothing", async () => {
    const gone = server(hw(8, { claimed: false }));
    await expect(markReleasing(gone.client, hw(7), pool, NOW)).rejects.toBeInstanceOf(NotClaimedError);
    expect(gone.calls).toEqual(["PUT@7", "GET"]); // the stale write was refused by its guard
    expect(gone.current()).toEqual(hw(8, { claimed: false }));
    const unmarked = server(hw(3));
    await expect(release(unmarked.client, hw(3), pool)).rejects.toBeInstanceOf(NotReleasingError);
    expect(unmarked.calls).toEqual(["GET"]);
  });

  it("turn PXE off with the claim on release and on quarantine, so no late Workflow can boot the server", async () => {
    const released = await release(
      server(hw(4, { releasing: true })).client,
      hw(4, { releasing: true }),
      pool,
    );
    const quarantined = await quarantine(server(hw(4)).client, hw(4), pool, "three attempts failed");
    for (const h of [released, quarantined]) {
      expect(h.spec.interfaces?.[0]?.netboot).toEqual({ allowPXE: false, allowWorkflow: false });
      expect(h.metadata.labels?.[LABEL.poolUID]).toBeUndefined();
      expect(h.metadata.annotations?.[ANNOTATION.releasing]).toBeUndefined();
    }
    expect(quarantined.metadata.labels?.[LABEL.quarantined]).toBe("true");
    expect(quarantined.metadata.annotations?.[ANNOTATION.quarantinedBy]).toBe(pool.uid);
  });
});
