/** Builders for the objects operator tests create: Hardware as a person types it, and pools. */
import type { KubeConfig } from "@kubernetes/client-node";
import { HARDWARE, WORKFLOW, type Hardware, type Workflow } from "../../lib/api/tinkerbell.ts";
import { MACHINE_DEPLOYMENT, type MachineDeployment } from "../../lib/api/machine-controller.ts";
import { KubeClient } from "../../lib/kube/rest.ts";
import { POOL } from "../../operator/pool/reconcile.ts";
import type { PoolObject } from "../../operator/pool/types.ts";
import { waitFor } from "../harness/ports.ts";

let macSeq = 0x10;

export function hardware(
  namespace: string,
  name: string,
  opts: { labels?: Record<string, string>; bmc?: boolean } = {},
): Hardware {
  macSeq += 1;
  const octet = macSeq.toString(16).padStart(2, "0");
  return {
    apiVersion: "tinkerbell.org/v1alpha1",
    kind: "Hardware",
    metadata: { name, namespace, labels: opts.labels ?? {} },
    spec: {
      ...(opts.bmc
        ? { bmcRef: { apiGroup: "bmc.tinkerbell.org", kind: "Machine", name: `${name}-bmc` } }
        : {}),
      disks: [{ device: "/dev/sda" }],
      interfaces: [
        {
          dhcp: {
            mac: `52:54:00:aa:00:${octet}`,
            arch: "x86_64",
            uefi: true,
            hostname: name,
            iface_name: "eth0",
            ip: { address: `10.77.0.${macSeq}`, netmask: "255.255.255.0", gateway: "10.77.0.1" },
            name_servers: ["10.77.0.1"],
          },
          netboot: { allowPXE: false, allowWorkflow: false },
        },
      ],
    },
  };
}

export function poolObject(namespace: string, name: string, spec: Record<string, unknown>): PoolObject {
  return {
    apiVersion: "metalpool.io/v1alpha1",
    kind: "BaremetalPool",
    metadata: { name, namespace },
    spec: {
      template: { osImageURL: "http://images.test/ubuntu.raw.gz", kubeletVersion: "1.33.4" },
      provisioning: {
        workflowOwner: "Operator",
        power: "Manual",
        attemptTimeout: "10m",
        maxAttempts: 3,
        maxConcurrent: 10,
        wipeMode: "Metadata",
      },
      ...spec,
    } as PoolObject["spec"],
  };
}

/** Direct reads (never a cache), so assertions see what the API server holds. */
export class World {
  readonly client: KubeClient;
  readonly namespace: string;
  constructor(kc: KubeConfig, namespace: string) {
    this.client = new KubeClient(kc);
    this.namespace = namespace;
  }
  async hardware(): Promise<Hardware[]> {
    return (await this.client.list<Hardware>(HARDWARE, this.namespace)).items;
  }
  async machineDeployments(namespace = this.namespace): Promise<MachineDeployment[]> {
    return (await this.client.list<MachineDeployment>(MACHINE_DEPLOYMENT, namespace)).items;
  }
  async workflows(): Promise<Workflow[]> {
    return (await this.client.list<Workflow>(WORKFLOW, this.namespace)).items;
  }
  async pool(name: string): Promise<PoolObject | null> {
    return this.client.getOrNull<PoolObject>(POOL, this.namespace, name);
  }
  async claimedBy(uid: string): Promise<Hardware[]> {
    return (await this.hardware()).filter((h) => h.metadata.labels?.["metalpool.io/pool-uid"] === uid);
  }
  async setReplicas(name: string, replicas: number): Promise<void> {
    await this.client.patch(POOL, this.namespace, name, { spec: { replicas } }, "merge");
  }
  /** Waits until the pool's status satisfies `ok`; the failure message shows the last status seen. */
  async until(
    name: string,
    what: string,
    ok: (p: PoolObject) => boolean | Promise<boolean>,
    timeoutMs = 60_000,
  ): Promise<PoolObject> {
    let last: PoolObject | null = null;
    try {
      await waitFor(
        what,
        async () => {
          last = await this.pool(name);
          return last !== null && (await ok(last));
        },
        timeoutMs,
        250,
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\nlast status: ${JSON.stringify((last as PoolObject | null)?.status, null, 1)}`,
        { cause: err },
      );
    }
    return last as unknown as PoolObject;
  }
}

export const condition = (
  p: PoolObject,
  type: string,
): { status: string; reason: string; message: string } | undefined =>
  p.status?.conditions?.find((c) => c.type === type);
