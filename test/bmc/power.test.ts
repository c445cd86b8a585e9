/**
 * lib/bmc's power paths and inventory sync on the real API server, against sushy-tools' Redfish emulator:
 * the Redfish path changes exactly the named system (seen in the emulator's notifications), the rufio path
 * writes Jobs the real bmc Job CRD accepts and reads their result, and inventory lands in the Hardware
 * without touching disks a person listed. No message or object carries the BMC password.
 */
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BMC_JOB, BMC_MACHINE, HARDWARE, type BmcJob, type Hardware } from "../../lib/api/tinkerbell.ts";
import { syncInventory } from "../../lib/bmc/inventory.ts";
import { bmcJobPowerPath, redfishPowerPath, type PowerTarget } from "../../lib/bmc/power.ts";
import { BmcConfigError } from "../../lib/bmc/target.ts";
import type { SecretPolicy } from "../../lib/kube/secret-policy.ts";
import { KubeClient, type KubeObject } from "../../lib/kube/rest.ts";
import { RedfishError } from "../../lib/redfish/errors.ts";
import { createNamespace, testKubeConfig } from "../harness/kube.ts";
import { waitFor } from "../harness/ports.ts";
import { startRedfishEmulator, type RedfishEmulator } from "../harness/redfish.ts";

/** The Redfish emulator here speaks plain http; production refuses that unless told otherwise. */
const PLAIN_HTTP_LAB: SecretPolicy = { extraNamespaces: [], allowInsecureBmc: true };

const kc = testKubeConfig();
const kube = new KubeClient(kc);
const core = kc.makeApiClient(CoreV1Api);
const SYSTEM = {
  off: "0b7f1f4e-0000-4000-8000-000000000001",
  on: "0b7f1f4e-0000-4000-8000-000000000002",
  legacy: "0b7f1f4e-0000-4000-8000-000000000003",
  disks: "0b7f1f4e-0000-4000-8000-000000000004",
};
let bmc: RedfishEmulator;
let ns: string;
/** Every outcome detail and error message the tests saw: none may contain the password. */
const messages: string[] = [];

function server(name: string, opts: { uefi?: boolean; annotations?: Record<string, string> } = {}): Hardware {
  return {
    apiVersion: "tinkerbell.org/v1alpha1",
    kind: "Hardware",
    metadata: { name, namespace: ns, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
    spec: {
      ...(opts.annotations ? {} : { bmcRef: { apiGroup: "bmc.tinkerbell.org", kind: "Machine", name } }),
      interfaces: [
        { dhcp: { mac: "52:54:00:77:00:01", uefi: opts.uefi ?? true }, netboot: { allowPXE: false } },
      ],
    },
  };
}

async function secret(name: string, password = bmc.password): Promise<void> {
  await core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name }, stringData: { username: bmc.username, password } },
  });
}

/** A Hardware with a bmc Machine and its Secret, as Tinkerbell users write them. */
async function withMachine(name: string, system: string, opts: { uefi?: boolean } = {}): Promise<Hardware> {
  await secret(name);
  const url = new URL(bmc.url);
  await kube.create(BMC_MACHINE, {
    metadata: { name, namespace: ns },
    spec: {
      connection: {
        // The emulator speaks plain HTTP; a host without a scheme means https, as in rufio.
        host: `http://${url.hostname}`,
        insecureTLS: false,
        authSecretRef: { name, namespace: ns },
        providerOptions: { redfish: { port: Number(url.port), systemName: system, useBasicAuth: true } },
      },
    },
  } as KubeObject);
  return kube.create(HARDWARE, server(name, opts));
}

function since(start: number, uuid: string): RedfishEmulator["notifications"] {
  return bmc.notifications.slice(start).filter((n) => n.uuid === uuid);
}

beforeAll(async () => {
  bmc = await startRedfishEmulator([
    { uuid: SYSTEM.off, name: "off", nics: [{ mac: "52:54:00:77:00:01" }] },
    { uuid: SYSTEM.on, name: "on", powerState: "On" },
    { uuid: SYSTEM.legacy, name: "legacy" },
    {
      uuid: SYSTEM.disks,
      name: "disks",
      nics: [{ mac: "52:54:00:77:00:04" }],
      drives: [
        { id: "ssd0", sizeBytes: 960_197_124_096, mediaType: "SSD" },
        { id: "ssd1", sizeBytes: 960_197_124_096, mediaType: "SSD" },
        { id: "hdd0", sizeBytes: 8_001_563_222_016, mediaType: "HDD" },
      ],
    },
  ]);
  ns = await createNamespace(core, "bmc-power");
});

afterAll(async () => {
  await bmc?.stop();
  for (const m of messages) expect(m).not.toContain(bmc.password);
});

describe("the Redfish power path", () => {
  const power = (): ReturnType<typeof redfishPowerPath> =>
    redfishPowerPath(kube, { timeoutMs: 5_000, policy: PLAIN_HTTP_LAB });

  it("boots a server that is off from the network once, in UEFI mode, touching no other system", async () => {
    const hw = await withMachine("uefi-off", SYSTEM.off);
    const start = bmc.notifications.length;
    const outcome = await power().pxeBootOnce({ hardware: hw, operationKey: "wf-a-1" });
    messages.push(outcome.detail);
    expect(outcome).toEqual({ state: "done", detail: "one-time PXE (UEFI) set; ResetType On sent" });
    const seen = since(start, SYSTEM.off);
    expect(seen.some((n) => n.boot_device === "Pxe" && n.boot_mode === "UEFI")).toBe(true);
    expect(seen.at(-1)?.pending_power?.power_state).toBe("On");
    expect(bmc.notifications.slice(start).filter((n) => n.uuid !== SYSTEM.off)).toEqual([]);
  });

  it("restarts a server that is already on, and says it is on", async () => {
    const hw = await withMachine("uefi-on", SYSTEM.on);
    const target: PowerTarget = { hardware: hw, operationKey: "wf-b-1" };
    expect(await power().powerState(target)).toBe("on");
    const start = bmc.notifications.length;
    const outcome = await power().pxeBootOnce(target);
    messages.push(outcome.detail);
    expect(outcome.detail).toBe("one-time PXE (UEFI) set; ResetType ForceRestart sent");
    expect(since(start, SYSTEM.on).at(-1)?.pending_power?.power_state).toBe("ForceRestart");
  });

  it("uses Legacy boot for a Hardware whose firmware is BIOS, and powers it off again", async () => {
    const hw = await withMachine("bios", SYSTEM.legacy, { uefi: false });
    const target: PowerTarget = { hardware: hw, operationKey: "wf-c-1" };
    const start = bmc.notifications.length;
    await power().pxeBootOnce(target);
    expect(since(start, SYSTEM.legacy).some((n) => n.boot_device === "Pxe" && n.boot_mode === "Legacy")).toBe(
      true,
    );
    // The emulator applies power changes a few seconds later, like real BMCs.
    await waitFor("power on", async () => (await power().powerState(target)) === "on", 20_000, 500);
    expect(await power().powerOff(target)).toEqual({ state: "done", detail: "ResetType ForceOff sent" });
    expect(since(start, SYSTEM.legacy).at(-1)?.pending_power?.power_state).toBe("Off");
  });

  it("reports a refused password as an unauthorized RedfishError that does not contain it", async () => {
    await secret("wrong-pass", "not-the-Passw0rd-77");
    const url = new URL(bmc.url);
    await kube.create(BMC_MACHINE, {
      metadata: { name: "wrong-pass", namespace: ns },
      spec: {
        connection: {
          host: `http://${url.hostname}`,
          port: Number(url.port),
          insecureTLS: false,
          authSecretRef: { name: "wrong-pass", namespace: ns },
        },
      },
    } as KubeObject);
    const hw = await kube.create(HARDWARE, server("wrong-pass"));
    const err = await power()
      .powerOff({ hardware: hw, operationKey: "x" })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(RedfishError);
    const message = (err as RedfishError).message;
    messages.push(message);
    // The Machine names no system, so the very first request (listing Systems) is the one refused.
    expect((err as RedfishError).kind).toBe("unauthorized");
    expect(message).not.toContain("not-the-Passw0rd-77");
  });
});

describe("the rufio Job power path", () => {
  const power = (): ReturnType<typeof bmcJobPowerPath> => bmcJobPowerPath(kube);

  it("creates one Job per operation, in the shape the real CRD accepts, and reads rufio's result", async () => {
    const hw = await kube.create(HARDWARE, server("jobbed", { uefi: false }));
    const target: PowerTarget = { hardware: hw, operationKey: "wf-j-1" };
    expect(await power().pxeBootOnce(target)).toEqual({
      state: "pending",
      detail: `bmc Job ${ns}/metalpool-wf-j-1-netboot is waiting for rufio`,
    });
    expect((await power().pxeBootOnce(target)).state).toBe("pending");
    const jobs = (await kube.list<BmcJob>(BMC_JOB, ns)).items;
    expect(jobs.map((j) => j.metadata.name)).toEqual(["metalpool-wf-j-1-netboot"]);
    expect(jobs[0]?.spec).toEqual({
      machineRef: { name: "jobbed", namespace: ns },
      tasks: [
        { powerAction: "off" },
        { bootDevice: { device: "pxe", efiBoot: false } },
        { powerAction: "on" },
      ],
    });
    expect(jobs[0]?.metadata.labels).toEqual({ "metalpool.io/hardware": "jobbed" });

    // What rufio writes when the tasks ran (status subresource, as the controller does).
    await kube.updateStatus(BMC_JOB, {
      ...(jobs[0] as BmcJob),
      status: { conditions: [{ type: "Completed", status: "True" }] },
    });
    expect(await power().pxeBootOnce(target)).toEqual({
      state: "done",
      detail: `bmc Job ${ns}/metalpool-wf-j-1-netboot completed`,
    });
  });

  it("powers off through its own Job and reports a failure with rufio's message", async () => {
    const hw = await kube.create(HARDWARE, server("jobbed-off"));
    const target: PowerTarget = { hardware: hw, operationKey: "release-7" };
    expect((await power().powerOff(target)).state).toBe("pending");
    const job = await kube.get<BmcJob>(BMC_JOB, ns, "metalpool-release-7-off");
    expect(job.spec.tasks).toEqual([{ powerAction: "off" }]);
    await kube.updateStatus(BMC_JOB, {
      ...job,
      status: { conditions: [{ type: "Failed", status: "True", message: "bmc connection refused" }] },
    });
    expect(await power().powerOff(target)).toEqual({
      state: "failed",
      detail: `bmc Job ${ns}/metalpool-release-7-off failed: bmc connection refused`,
    });
  });

  it("reads power state from the bmc Machine's status, unknown until rufio has written it", async () => {
    const url = new URL(bmc.url);
    const machine = await kube.create(BMC_MACHINE, {
      metadata: { name: "watched", namespace: ns },
      spec: {
        connection: { host: url.hostname, insecureTLS: false, authSecretRef: { name: "x", namespace: ns } },
      },
    } as KubeObject);
    const target: PowerTarget = { hardware: server("watched"), operationKey: "k" };
    expect(await power().powerState(target)).toBe("unknown");
    await kube.updateStatus(BMC_MACHINE, { ...machine, status: { powerState: "off" } } as KubeObject);
    expect(await power().powerState(target)).toBe("off");
  });
});

describe("syncInventory", () => {
  it("fills disks, labels and the inventory record of a Hardware found through the bmc annotations", async () => {
    await secret("annotated-bmc");
    const hw = await kube.create(
      HARDWARE,
      server("annotated", {
        annotations: {
          "metalpool.io/bmc-endpoint": bmc.url,
          "metalpool.io/bmc-secret": "annotated-bmc",
          "metalpool.io/bmc-system": SYSTEM.disks,
        },
      }),
    );
    const now = new Date("2026-11-25T01:30:00Z");
    const { hardware } = await syncInventory(kube, hw, { now, policy: PLAIN_HTTP_LAB });
    const stored = await kube.get<Hardware>(HARDWARE, ns, "annotated");
    expect(stored).toEqual(hardware);
    expect(stored.spec.disks).toEqual([
      { device: "/dev/sda" },
      { device: "/dev/sdb" },
      { device: "/dev/sdc" },
    ]);
    expect(stored.metadata.labels).toEqual({ "metalpool.io/disks": "3", "metalpool.io/disk-min-gib": "894" });
    expect(JSON.parse(stored.metadata.annotations?.["metalpool.io/inventory"] ?? "")).toEqual({
      systemId: SYSTEM.disks,
      uuid: SYSTEM.disks,
      manufacturer: "Sushy Emulator",
      disks: [
        { name: "ssd0", sizeBytes: 960_197_124_096, rotational: true },
        { name: "ssd1", sizeBytes: 960_197_124_096, rotational: true },
        { name: "hdd0", sizeBytes: 8_001_563_222_016, rotational: true },
      ],
      nics: [{ mac: "52:54:00:77:00:04" }],
      readAt: "2026-11-25T01:30:00.000Z",
    });
    // Our merge patch wrote only its keys: the bmc annotations are still there.
    expect(stored.metadata.annotations?.["metalpool.io/bmc-secret"]).toBe("annotated-bmc");
    expect(JSON.stringify(stored)).not.toContain(bmc.password);
  });

  it("keeps the disks a person listed", async () => {
    const hw = await withMachine("listed", SYSTEM.disks);
    const listed = await kube.patch<Hardware>(
      HARDWARE,
      ns,
      "listed",
      { spec: { disks: [{ device: "/dev/nvme0n1" }] } },
      "merge",
    );
    await syncInventory(kube, listed, { policy: PLAIN_HTTP_LAB });
    const stored = await kube.get<Hardware>(HARDWARE, ns, hw.metadata.name ?? "");
    expect(stored.spec.disks).toEqual([{ device: "/dev/nvme0n1" }]);
    expect(stored.metadata.labels?.["metalpool.io/disks"]).toBe("3");
  });

  it("does not overwrite disks a person set after the Hardware was read (it writes on a fresh read)", async () => {
    const stale = await withMachine("racing", SYSTEM.disks);
    await kube.patch(HARDWARE, ns, "racing", { spec: { disks: [{ device: "/dev/vda" }] } }, "merge");
    await syncInventory(kube, stale, { policy: PLAIN_HTTP_LAB });
    const after = await kube.get<Hardware>(HARDWARE, ns, "racing");
    expect(after.spec.disks).toEqual([{ device: "/dev/vda" }]);
    expect(after.metadata.annotations?.["metalpool.io/inventory"]).toBeDefined();
  });

  it("never writes into a Hardware a pool claimed while its BMC was being read", async () => {
    const stale = await withMachine("claimed-meanwhile", SYSTEM.disks);
    const claimed = await kube.patch<Hardware>(
      HARDWARE,
      ns,
      "claimed-meanwhile",
      { metadata: { labels: { "metalpool.io/pool-uid": "some-pool" } } },
      "merge",
    );
    await syncInventory(kube, stale, { policy: PLAIN_HTTP_LAB });
    const after = await kube.get<Hardware>(HARDWARE, ns, "claimed-meanwhile");
    expect(after.metadata.resourceVersion).toBe(claimed.metadata.resourceVersion);
  });

  it("says what is missing when a Hardware names a Secret that does not exist", async () => {
    const hw = await kube.create(
      HARDWARE,
      server("no-secret", {
        annotations: { "metalpool.io/bmc-endpoint": bmc.url, "metalpool.io/bmc-secret": "absent" },
      }),
    );
    await expect(syncInventory(kube, hw, { policy: PLAIN_HTTP_LAB })).rejects.toThrow(
      new BmcConfigError(`Hardware ${ns}/no-secret: credential Secret ${ns}/absent not found`),
    );
  });
});
