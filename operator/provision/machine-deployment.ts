/**
 * The MachineDeployment for one claimed server, exactly as machine-controller's baremetal/tinkerbell
 * driver accepts it (shared notes/machine-controller.md): replicas 1 and maxSurge 0, because a surge would
 * create a second Machine on the same hardwareRef and take over the Node.
 */
import type { BaremetalPoolSpec, PoolRef } from "../../lib/api/baremetalpool.ts";
import { ANNOTATION, LABEL } from "../../lib/api/labels.ts";
import type { MachineDeployment } from "../../lib/api/machine-controller.ts";
import type { Hardware } from "../../lib/api/tinkerbell.ts";
import { childName } from "./names.ts";

export function machineDeploymentName(pool: PoolRef, hw: Hardware): string {
  return childName(63, pool.name, hw.metadata.name ?? "");
}

export function buildMachineDeployment(
  pool: PoolRef,
  spec: BaremetalPoolSpec,
  hw: Hardware,
  namespace: string,
  attempt: number,
): MachineDeployment {
  const hwName = hw.metadata.name ?? "";
  const selectorLabels = { [LABEL.poolUID]: pool.uid, [LABEL.hardware]: hwName };
  const t = spec.template;
  const tinkAuth = t.tinkerbellKubeconfigSecretRef;
  const driverSpec: Record<string, unknown> = {
    clusterName: t.cluster.clusterName ?? pool.name,
    osImageUrl: t.osImageURL,
    hardwareRef: { name: hwName, namespace: hw.metadata.namespace },
    ...(tinkAuth
      ? {
          auth: {
            kubeconfig: {
              secretKeyRef: {
                namespace: tinkAuth.namespace ?? pool.namespace,
                name: tinkAuth.name,
                key: tinkAuth.key,
              },
            },
          },
        }
      : {}),
  };
  return {
    apiVersion: "cluster.k8s.io/v1alpha1",
    kind: "MachineDeployment",
    metadata: {
      name: machineDeploymentName(pool, hw),
      namespace,
      labels: { ...selectorLabels, [LABEL.pool]: pool.name },
      annotations: {
        "k8c.io/operating-system-profile": t.operatingSystemProfile,
        [ANNOTATION.poolNamespace]: pool.namespace,
        [LABEL.attempt]: String(attempt),
      },
    },
    spec: {
      replicas: 1,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      selector: { matchLabels: selectorLabels },
      template: {
        metadata: { labels: selectorLabels },
        spec: {
          metadata: { labels: { ...t.nodeLabels } },
          ...(t.nodeTaints?.length ? { taints: t.nodeTaints } : {}),
          providerSpec: {
            value: {
              ...t.providerSpecExtra,
              cloudProvider: "baremetal",
              cloudProviderSpec: { driver: "tinkerbell", driverSpec },
              operatingSystem: t.operatingSystem,
              operatingSystemSpec: { distUpgradeOnBoot: false },
              sshPublicKeys: t.sshPublicKeys ?? [],
            },
          },
          versions: { kubelet: t.kubeletVersion.replace(/^v/, "") },
        },
      },
    },
  };
}
