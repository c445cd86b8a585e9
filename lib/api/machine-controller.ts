/**
 * Kubermatic machine-controller's cluster.k8s.io/v1alpha1 objects (k8c.io/machine-controller, pinned in
 * hack/versions.env). The CRDs carry no schema, so these types are the contract in
 * shared notes/machine-controller.md: one MachineDeployment per server, replicas 1, maxSurge 0.
 */
import type { KubeObject, ResourceType } from "../kube/rest.ts";

export const MACHINE_DEPLOYMENT: ResourceType = {
  group: "cluster.k8s.io",
  version: "v1alpha1",
  plural: "machinedeployments",
  kind: "MachineDeployment",
  namespaced: true,
};
export const MACHINE: ResourceType = {
  group: "cluster.k8s.io",
  version: "v1alpha1",
  plural: "machines",
  kind: "Machine",
  namespaced: true,
};

export interface MachineDeployment extends KubeObject {
  spec: {
    replicas: number;
    strategy?: { type: string; rollingUpdate?: { maxSurge: number; maxUnavailable: number } };
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        metadata?: { labels?: Record<string, string> };
        taints?: { key: string; value?: string; effect: string }[];
        providerSpec: { value: Record<string, unknown> };
        versions: { kubelet: string };
      };
    };
  };
  status?: {
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
  };
}
