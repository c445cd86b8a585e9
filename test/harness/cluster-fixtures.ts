/**
 * FIXTURES for the two programs the machine-controller end-to-end tests do not run:
 *
 *  - OSM FIXTURE: operating-system-manager writes, for each MachineDeployment revision, the bootstrap
 *    cloud-config Secret `cloud-init-settings/<md>-<namespace>-bootstrap-config`, annotated with that
 *    revision; machine-controller creates no instance before it exists (shared notes: machine-controller.md).
 *  - KUBELET FIXTURE: the provisioned server's kubelet registering a Ready Node with the server's address,
 *    which is how machine-controller finds the Node of a Machine without a cloud controller manager.
 */
import type { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { MACHINE_DEPLOYMENT, type MachineDeployment } from "../../lib/api/machine-controller.ts";
import { KubeClient } from "../../lib/kube/rest.ts";

export const CLOUD_INIT_NAMESPACE = "cloud-init-settings";
const REVISION = "machinedeployment.clusters.k8s.io/revision";

export class OsmFixture {
  private readonly client: KubeClient;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  /** Secrets written, as `<name>@<revision>`. */
  readonly written: string[] = [];
  readonly errors: string[] = [];

  private readonly core: CoreV1Api;
  private readonly namespace: string;

  constructor(kc: KubeConfig, core: CoreV1Api, namespace: string) {
    this.client = new KubeClient(kc);
    this.core = core;
    this.namespace = namespace;
  }

  async start(everyMs = 500): Promise<void> {
    try {
      await this.core.createNamespace({ body: { metadata: { name: CLOUD_INIT_NAMESPACE } } });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
    this.timer = setInterval(() => void this.step(), everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async step(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const mds = await this.client.list<MachineDeployment>(MACHINE_DEPLOYMENT, this.namespace);
      for (const md of mds.items) await this.ensure(md);
    } catch (err) {
      this.errors.push(err instanceof Error ? err.message : String(err));
    } finally {
      this.busy = false;
    }
  }

  private async ensure(md: MachineDeployment): Promise<void> {
    const revision = md.metadata.annotations?.[REVISION];
    if (!revision || md.metadata.deletionTimestamp) return;
    const name = `${md.metadata.name}-${this.namespace}-bootstrap-config`;
    const key = `${name}@${revision}`;
    if (this.written.includes(key)) return;
    const body = {
      metadata: {
        name,
        namespace: CLOUD_INIT_NAMESPACE,
        annotations: { "k8c.io/machine-deployment-revision": revision },
      },
      data: { "cloud-config": Buffer.from(`#cloud-config\nhostname: <MACHINE_NAME>\n`).toString("base64") },
    };
    try {
      await this.core.createNamespacedSecret({ namespace: CLOUD_INIT_NAMESPACE, body });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      await this.core.replaceNamespacedSecret({ name, namespace: CLOUD_INIT_NAMESPACE, body });
    }
    this.written.push(key);
  }
}

/** KUBELET FIXTURE: a Ready Node with the server's address, as its kubelet would register it. */
export async function joinNode(
  core: CoreV1Api,
  name: string,
  address: string,
  kubelet: string,
): Promise<void> {
  const now = new Date();
  await core.createNode({
    body: {
      metadata: { name, labels: { "kubernetes.io/hostname": name } },
      status: {
        addresses: [
          { type: "InternalIP", address },
          { type: "Hostname", address: name },
        ],
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "KubeletReady",
            message: "kubelet is posting ready status (fixture)",
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
        nodeInfo: {
          kubeletVersion: `v${kubelet.replace(/^v/, "")}`,
          architecture: "amd64",
          operatingSystem: "linux",
          bootID: "",
          containerRuntimeVersion: "",
          kernelVersion: "",
          kubeProxyVersion: "",
          machineID: "",
          osImage: "",
          systemUUID: "",
        },
      },
    },
  });
}
