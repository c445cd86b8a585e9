/**
 * Clients for the clusters where pools put their MachineDeployments: this cluster by default, or the one a
 * kubeconfig Secret names. Clients are cached per Secret version, so a rotated kubeconfig takes effect.
 */
import { SECRET } from "../lib/api/core.ts";
import type { KubeConfig } from "@kubernetes/client-node";
import type { BaremetalPoolSpec } from "../lib/api/baremetalpool.ts";
import { kubeConfigFromString } from "../lib/kube/config.ts";
import { KubeClient, isNotFound, type KubeObject } from "../lib/kube/rest.ts";
import type { TargetCluster } from "./pool/reconcile.ts";
import type { PoolObject } from "./pool/types.ts";

export class TargetClusters {
  private readonly local: KubeClient;
  private readonly cache = new Map<string, { rv: string; client: KubeClient }>();
  constructor(kc: KubeConfig) {
    this.local = new KubeClient(kc);
  }

  async resolve(pool: PoolObject, spec: BaremetalPoolSpec): Promise<TargetCluster> {
    const namespace = spec.template.cluster.namespace ?? pool.metadata.namespace ?? "default";
    const ref = spec.template.cluster.kubeconfigSecretRef;
    if (!ref) return { client: this.local, namespace };
    const secretNs = ref.namespace ?? pool.metadata.namespace ?? "default";
    let secret: KubeObject & { data?: Record<string, string> };
    try {
      secret = await this.local.get(SECRET, secretNs, ref.name);
    } catch (err) {
      if (isNotFound(err))
        throw new Error(`kubeconfig Secret ${secretNs}/${ref.name} not found`, { cause: err });
      throw err;
    }
    const id = `${secretNs}/${ref.name}/${ref.key}`;
    const cached = this.cache.get(id);
    if (cached && cached.rv === secret.metadata.resourceVersion) return { client: cached.client, namespace };
    const encoded = secret.data?.[ref.key];
    if (!encoded) throw new Error(`kubeconfig Secret ${secretNs}/${ref.name} has no key "${ref.key}"`);
    const client = new KubeClient(kubeConfigFromString(Buffer.from(encoded, "base64").toString("utf8")));
    this.cache.set(id, { rv: secret.metadata.resourceVersion ?? "", client });
    return { client, namespace };
  }
}
