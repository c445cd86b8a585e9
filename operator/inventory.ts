/**
 * Keeps the inventory of free servers current: for every unclaimed Hardware with a known BMC and no (or a
 * day-old) inventory, read it over Redfish and write labels, annotation and disks (lib/bmc/inventory.ts).
 * Claimed servers are left alone — a write to a Hardware machine-controller is provisioning makes it
 * create a duplicate Workflow. BMC failures become Warning Events on the Hardware and retry with backoff.
 */
import { ANNOTATION, LABEL } from "../lib/api/labels.ts";
import type { Hardware } from "../lib/api/tinkerbell.ts";
import { syncInventory } from "../lib/bmc/inventory.ts";
import type { SecretPolicy } from "../lib/kube/secret-policy.ts";
import { BmcConfigError } from "../lib/bmc/target.ts";
import type { EventRecorder } from "../lib/kube/events.ts";
import type { Informer } from "../lib/kube/informer.ts";
import { WorkQueue, runWorker } from "../lib/kube/queue.ts";
import type { KubeClient } from "../lib/kube/rest.ts";
import type { Logger } from "../lib/log.ts";
import { RedfishError } from "../lib/redfish/errors.ts";
import { timedBmcRequest, type BmcObserver } from "./provision/bmc-requests.ts";

const DAY = 24 * 3600_000;

export function needsInventory(hw: Hardware, now: number): boolean {
  const a = hw.metadata.annotations ?? {};
  if (hw.metadata.labels?.[LABEL.poolUID] || hw.metadata.deletionTimestamp) return false;
  if (!hw.spec.bmcRef?.name && !a[ANNOTATION.bmcEndpoint]) return false;
  const raw = a[ANNOTATION.inventory];
  if (!raw) return true;
  try {
    return now - Date.parse((JSON.parse(raw) as { readAt?: string }).readAt ?? "") > DAY;
  } catch {
    return true;
  }
}

const REASONS: Partial<Record<RedfishError["kind"], string>> = {
  unauthorized: "BMCCredentialsRefused",
  tls: "BMCCertificateUntrusted",
  unsupported: "BMCUnsupported",
  protocol: "BMCUnsupported",
};

/** One Event reason per thing a person has to fix. */
export function eventReason(err: RedfishError | BmcConfigError): string {
  if (err instanceof BmcConfigError) return "BMCConfigInvalid";
  return REASONS[err.kind] ?? "BMCUnreachable";
}

export class InventoryController {
  readonly queue = new WorkQueue({ baseDelayMs: 5_000, maxDelayMs: 30 * 60_000 });
  private readonly deps: {
    client: KubeClient;
    hardware: Informer<Hardware>;
    events: EventRecorder;
    log: Logger;
    timeoutMs?: number;
    policy?: SecretPolicy;
    /** Told of every inventory read (metrics). */
    observeBmc?: BmcObserver;
  };
  private running: Promise<void> | undefined;

  constructor(deps: InventoryController["deps"]) {
    this.deps = deps;
    const consider = (hw: Hardware): void => {
      if (needsInventory(hw, Date.now())) this.queue.add(`${hw.metadata.namespace}/${hw.metadata.name}`);
    };
    deps.hardware.on("add", consider).on("update", consider);
  }

  start(): void {
    for (const hw of this.deps.hardware.list())
      if (needsInventory(hw, Date.now())) this.queue.add(`${hw.metadata.namespace}/${hw.metadata.name}`);
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await this.running;
  }

  private loop(): Promise<void> {
    return runWorker(
      this.queue,
      (key) => this.refresh(key),
      (key, err, retryInMs) =>
        this.deps.log.warn(
          { hardware: key, err: err instanceof Error ? err.message : String(err), retryInMs },
          "reading inventory failed",
        ),
    );
  }

  private async refresh(key: string): Promise<void> {
    const [namespace, name] = key.split("/") as [string, string];
    const hw = this.deps.hardware.get(namespace, name);
    if (!hw || !needsInventory(hw, Date.now())) return;
    try {
      const { inventory } = await timedBmcRequest(
        "inventory",
        this.deps.observeBmc,
        () =>
          syncInventory(this.deps.client, hw, {
            ...(this.deps.timeoutMs ? { timeoutMs: this.deps.timeoutMs } : {}),
            ...(this.deps.policy ? { policy: this.deps.policy } : {}),
          }),
        () => "success",
      );
      this.deps.log.info(
        {
          hardware: key,
          cpus: inventory.cpus,
          memoryBytes: inventory.memoryBytes,
          disks: inventory.disks.length,
        },
        "inventory updated",
      );
    } catch (err) {
      if (err instanceof RedfishError || err instanceof BmcConfigError) {
        const reason = eventReason(err);
        void this.deps.events.record(
          { ...hw, apiVersion: "tinkerbell.org/v1alpha1", kind: "Hardware" },
          "Warning",
          reason,
          err.message,
        );
      }
      throw err;
    }
  }
}
