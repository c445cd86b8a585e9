/**
 * Clients for the clusters where pools put their MachineDeployments: this cluster by default, or the one a
 * kubeconfig Secret names. Clients are cached per Secret version, so a rotated kubeconfig takes effect.
 */
import { SECRET } from "../lib/api/core.ts";
import type { KubeConfig } from "../lib/kube/kubeconfig.ts";
import type { BaremetalPoolSpec } from "../lib/api/baremetalpool.ts";
import { kubeConfigFromString } from "../lib/kube/config.ts";
import { KubeClient, isNotFound, type KubeObject } from "../lib/kube/rest.ts";
import {
  STRICT_SECRET_POLICY,
  secretNamespaceRefusal,
  type SecretPolicy,
} from "../lib/kube/secret-policy.ts";
import type { TargetCluster } from "./pool/reconcile.ts";
import type { PoolObject } from "./pool/types.ts";

export class TargetClusters {
  private readonly local: KubeClient;
  private readonly cache = new Map<string, { rv: string; client: KubeClient }>();
  private readonly policy: SecretPolicy;
  constructor(kc: KubeConfig, policy: SecretPolicy = STRICT_SECRET_POLICY) {
    this.local = new KubeClient(kc);
    this.policy = policy;
  }

  async resolve(pool: PoolObject, spec: BaremetalPoolSpec): Promise<TargetCluster> {
    const namespace = spec.template.cluster.namespace ?? pool.metadata.namespace ?? "default";
    const ref = spec.template.cluster.kubeconfigSecretRef;
    if (!ref) return { client: this.local, namespace };
    const poolNs = pool.metadata.namespace ?? "default";
    const secretNs = ref.namespace ?? poolNs;
    const refused = secretNamespaceRefusal(
      this.policy,
      `pool ${poolNs}/${pool.metadata.name}`,
      poolNs,
      secretNs,
    );
    if (refused) throw new Error(refused);
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
    let kc: KubeConfig;
    try {
      kc = kubeConfigFromString(Buffer.from(encoded, "base64").toString("utf8"));
    } catch {
      // The parser's message can quote the text, and the text holds credentials: say only where it is.
      throw new Error(`kubeconfig Secret ${secretNs}/${ref.name} key "${ref.key}" is not a valid kubeconfig`);
    }
    const client = new KubeClient(kc);
    this.cache.set(id, { rv: secret.metadata.resourceVersion ?? "", client });
    return { client, namespace };
  }
}
